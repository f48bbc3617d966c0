"""Benchmark: training throughput of the classifier, the vessel and the cup/disc segmenters on this machine.

Each figure is given with the same model's inference throughput, measured in the same process, as the
baseline: a training step (forward, backward, optimiser) should cost about three inference passes.

    python bench/bench_training.py [--steps 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fundus_viewer.core.cup_disc import CupDiscSegmenter, CupDiscSpec  # noqa: E402
from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier  # noqa: E402
from fundus_viewer.core.vessels import VesselSegmenter, VesselSpec  # noqa: E402
from trainer.cup_disc import cup_disc_loss  # noqa: E402
from trainer.vessels import vessel_loss  # noqa: E402


def rate(step, batch: int, steps: int) -> float:
    step()  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - started)


def measure(model, x, loss_fn, steps: int) -> tuple[float, float]:
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)

    def train_step():
        model.train()
        loss = loss_fn(model(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer():
        model.eval()
        with torch.no_grad():
            model(x)

    return rate(train_step, len(x), steps), rate(infer, len(x), steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    classifier = GlaucomaClassifier(ClassifierSpec(arch="alexnet", input_size=227))
    x = torch.rand(16, 3, 227, 227)
    y = torch.randint(0, 2, (16,))
    train, infer = measure(classifier, x, lambda out: torch.nn.functional.cross_entropy(out, y), args.steps)
    print(
        f"classifier (AlexNet-style, 227 px, batch 16): train {train:.1f} images/s; "
        f"inference {infer:.1f} images/s; ratio {infer / train:.2f}"
    )
    segmenter = VesselSegmenter(VesselSpec())
    patches = torch.rand(16, 3, 96, 96)
    target = (torch.rand(16, 1, 96, 96) > 0.9).float()
    mask = torch.ones_like(target)
    train, infer = measure(segmenter, patches, lambda out: vessel_loss(out, target, mask), args.steps)
    per_photo = (720 * 720) / (96 * 96)
    print(
        f"vessel U-Net (base 16, depth 3, 96 px patches, batch 16): train {train:.1f} patches/s "
        f"(= {train / per_photo:.2f} photos of 720 x 720/s); inference {infer:.1f} patches/s; ratio {infer / train:.2f}"
    )
    cup_disc = CupDiscSegmenter(CupDiscSpec())
    squares = torch.rand(8, 3, 128, 128)
    masks = (torch.rand(8, 2, 128, 128) > 0.5).float()
    train, infer = measure(cup_disc, squares, lambda out: cup_disc_loss(out, masks), args.steps)
    print(
        f"cup/disc U-Net (base 16, depth 4, 128 px, batch 8): train {train:.1f} squares/s; "
        f"inference {infer:.1f} squares/s; ratio {infer / train:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
