"""Benchmark: Patho-GAN synthesis and training speed, both presets, on this machine (CPU or CUDA).

(a) synthesis milliseconds per 512 px image at batch 1 and batched (8), paper-size and laptop-size
    generators (seeded random weights: speed does not depend on them); the paper reports 13 ms on a
    GTX 1080;
(b) training iterations per second (two generator updates with L_patho, one discriminator update)
    for both presets at their own sizes and batch, with the bundled classifier as V; and, as the
    baseline in the same process, the same iteration with lambda 0 (no L_patho): the ratio is what the
    pathology term costs.

    python bench/bench_gan.py [--device auto|cpu|cuda] [--repeats N]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fundus_viewer.core.device import describe_device, select_device  # noqa: E402
from fundus_viewer.core.gan.networks import Discriminator, GanSpec, Generator  # noqa: E402
from fundus_viewer.core.models.checkpoint import load_classifier  # noqa: E402
from trainer.gan import PRESETS, GanSteps  # noqa: E402


def timed(fn, device, repeats: int) -> float:
    fn()  # warm-up (cuDNN autotuning, allocations)
    if device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def spec_for(preset: str, size: int | None = None) -> GanSpec:
    p = PRESETS[preset]
    return GanSpec(
        size=size or p["size"],
        gen_base=p["gen_base"],
        gen_depth=p["gen_depth"],
        disc_base=p["disc_base"],
        disc_layers=p["disc_layers"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = select_device(args.device)
    torch.manual_seed(0)
    print(f"device: {describe_device(device)}")
    for preset in ("paper", "laptop"):
        generator = Generator(spec_for(preset, 512)).to(device).eval()
        for batch in (1, 8):
            vessels = torch.rand(batch, 1, 512, 512, device=device)
            with torch.no_grad():
                seconds = timed(functools.partial(generator, vessels), device, args.repeats)
            print(
                f"(a) {preset}-size generator ({sum(p.numel() for p in generator.parameters()) / 1e6:.1f} M params), "
                f"512 px, batch {batch}: {1000 * seconds / batch:.1f} ms per image"
            )
    classifier = load_classifier(device=device)
    for preset in ("laptop", "paper"):
        settings = dict(PRESETS[preset])
        spec = spec_for(preset)
        size, batch = spec.size, settings["batch_size"]
        real = torch.rand(batch, 3, size, size, device=device)
        vessels = torch.rand(batch, 1, size, size, device=device)
        disc = torch.tensor([[size / 2, size / 2, size // 3]] * batch, dtype=torch.float32)
        rates = {}
        for lam in (1000.0, 0.0):
            steps = GanSteps(
                Generator(spec).to(device), Discriminator(spec).to(device), classifier, settings, lam, "both", device
            )
            rates[lam] = 1 / timed(
                functools.partial(steps.iteration, [(real, vessels, disc), (real, vessels, disc)]),
                device,
                max(2, args.repeats // 2),
            )
        print(
            f"(b) {preset} preset ({size} px, batch {batch}): {rates[1000.0]:.2f} iterations/s with L_patho, "
            f"{rates[0.0]:.2f} without (ratio {rates[0.0] / rates[1000.0]:.1f}x)"
        )


if __name__ == "__main__":
    main()
