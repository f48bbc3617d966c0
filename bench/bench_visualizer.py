"""Benchmark: the pathology-aware visualiser against one pytorch-grad-cam GradCAM call, same process.

GradCAM is timed twice: on the frozen model the app uses, and on a copy whose weights require grad,
which is how pytorch-grad-cam is usually called on a freshly built or loaded torchvision model (its
backward then also computes every weight gradient). Ratios are given against both.

Prints (a) first analysis (forward + backward + all statistics + both maps on the photo) / GradCAM,
(b) one re-threshold from the cache / GradCAM, (c) batch heat-map throughput in photos per second.
Speed does not depend on the weights, so the full-size networks are built with seeded random weights
unless --model names a checkpoint.

    python bench/bench_visualizer.py [--arch alexnet|resnet18|both] [--repeats 20]
    python bench/bench_visualizer.py --model CKPT|torchvision:NAME|timm:NAME ... [--input-size 224]
    python bench/bench_visualizer.py --model families      # one row per family users bring (issue #12)

A ``torchvision:NAME`` / ``timm:NAME`` model is built empty at --input-size and visualised at its traced
layers (the last three stages), as ``fundus-viewer import-model`` would leave it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fundus_viewer.core.images import load_image  # noqa: E402
from fundus_viewer.core.models.checkpoint import load_classifier  # noqa: E402
from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier  # noqa: E402
from fundus_viewer.core.visualization.baselines import cam_grid  # noqa: E402
from fundus_viewer.core.visualization.pathology import PathologyVisualizer  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
FAMILIES = (
    "torchvision:resnet50",
    "torchvision:densenet121",
    "torchvision:efficientnet_b0",
    "torchvision:vgg16_bn",
    "torchvision:convnext_tiny",
    "timm:efficientnet_b0",
)  # timm's where installed


def build(name: str, input_size: int):
    """A checkpoint, or a torchvision / timm network with seeded random weights."""
    from fundus_viewer.core.models.architectures import is_external

    if is_external(name):
        torch.manual_seed(0)
        return GlaucomaClassifier(ClassifierSpec(arch=name, input_size=input_size)).eval().requires_grad_(False)
    return load_classifier(name)


def photos(count: int) -> list:
    """HRF full-field photos (768 x 512) when the shared data is there, else synthetic ones."""
    found = sorted((SHARED / "hrf" / "images").glob("*.jpg"))[:count]
    if found:
        return [load_image(p) for p in found]
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import synthetic_fundus

    return [synthetic_fundus(height=512, width=768, centre=(384, 256), radius=300, seed=i) for i in range(count)]


def timed(function, repeats: int) -> list[float]:
    function()  # warm-up: allocator, kernels, lazy imports
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        out.append(time.perf_counter() - started)
    return out


def bench(model, repeats: int, batch: list) -> dict:
    import copy

    visualizer = PathologyVisualizer(model)
    photo = batch[0]
    _, transform, x = visualizer.prepare(photo)
    trainable = copy.deepcopy(model).requires_grad_(True)

    def gradcam():
        grid, _ = cam_grid(model, x)
        return grid

    def gradcam_trainable():
        grid, _ = cam_grid(trainable, x)
        return grid

    def both(maps):  # the maps on the photo's own grid, as export and the metrics make them (they are lazy)
        return maps.rl, maps.rnfld

    def first_analysis():
        both(visualizer.analyze(photo).heatmaps())

    analysis = visualizer.analyze(photo)
    thresholds = iter(np.tile(np.linspace(0.05, 0.5, 50), 1000))

    def rethreshold():
        both(analysis.heatmaps(theta_act=float(next(thresholds))))

    gradcam_s = statistics.median(timed(gradcam, repeats))
    gradcam_trainable_s = statistics.median(timed(gradcam_trainable, repeats))
    first_s = statistics.median(timed(first_analysis, repeats))
    rethreshold_s = statistics.median(timed(rethreshold, repeats * 10))
    started = time.perf_counter()
    for image in batch:
        both(visualizer.analyze(image).heatmaps())
    throughput = len(batch) / (time.perf_counter() - started)
    return {
        "gradcam_ms": 1000 * gradcam_s,
        "gradcam_trainable_ms": 1000 * gradcam_trainable_s,
        "first_ratio_trainable": first_s / gradcam_trainable_s,
        "speedup_trainable": gradcam_trainable_s / rethreshold_s,
        "first_ms": 1000 * first_s,
        "rethreshold_ms": 1000 * rethreshold_s,
        "first_ratio": first_s / gradcam_s,
        "speedup": gradcam_s / rethreshold_s,
        "photos_per_s": throughput,
        "photo": f"{photo.width} x {photo.height}" if hasattr(photo, "width") else "synthetic",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=("alexnet", "resnet18", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument(
        "--model",
        nargs="+",
        help="checkpoints or torchvision:NAME / timm:NAME networks instead of ours; 'families' for the usual ones",
    )
    parser.add_argument("--input-size", type=int, default=224, help="input side of torchvision / timm networks")
    args = parser.parse_args()
    torch.manual_seed(0)
    batch = photos(args.photos)
    if args.model:
        names = [n for m in args.model for n in (FAMILIES if m == "families" else (m,))]
        models = {}
        from fundus_viewer.core.errors import CheckpointError
        from fundus_viewer.core.models.architectures import is_external

        for name in names:
            label = (
                name.split(":", 1)[1] + (" (timm)" if name.startswith("timm:") else "")
                if is_external(name)
                else Path(name).name
            )
            try:
                models[label] = build(name, args.input_size)
            except (ValueError, CheckpointError) as exc:  # timm not installed, a bad checkpoint
                print(f"skipped {name}: {exc}")
        if not models:
            return 2
    else:
        archs = ("alexnet", "resnet18") if args.arch == "both" else (args.arch,)
        sizes = {"alexnet": 227, "resnet18": 224}
        models = {
            a: GlaucomaClassifier(ClassifierSpec(arch=a, input_size=sizes[a])).eval().requires_grad_(False)
            for a in archs
        }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device CPU")
    header = (
        f"{'model':<22}{'GradCAM ms':>18}{'analysis ms':>12}{'(a) ratio':>14}"
        f"{'rethr. ms':>10}{'(b) speed-up':>16}{'(c) photos/s':>13}"
    )
    print(header)
    print(f"{'':<22}{'frozen/trainable':>18}{'':>12}{'frz/trn':>14}{'':>10}{'frz/trn':>16}")
    for name, model in models.items():
        r = bench(model, args.repeats, batch)
        print(
            f"{name:<22}{r['gradcam_ms']:>9.1f}/{r['gradcam_trainable_ms']:<8.1f}{r['first_ms']:>12.1f}"
            f"{r['first_ratio']:>8.2f}/{r['first_ratio_trainable']:<5.2f}{r['rethreshold_ms']:>10.2f}"
            f"{r['speedup']:>10.0f}x/{str(round(r['speedup_trainable'])) + 'x':<5}{r['photos_per_s']:>12.1f}"
        )
    print("(a) goal <= 0.5; (b) goal >= 100x; photo", r["photo"])
    for name, model in models.items():
        print(
            f"{name}: {model.spec.input_size} px, "
            f"layers {', '.join(n.removeprefix('network.') for n in model.default_layers)}; "
            f"CAM at {model.cam_layer.removeprefix('network.')}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
