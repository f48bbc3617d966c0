"""Benchmark: ``heatmap --data`` (batched, decoding in workers, maps into zarr) against the per-photo
``heatmap IMAGE...`` and a plain pytorch-grad-cam GradCAM loop, same process, same photos (issue #15).

The folder: 60 ACRIMA disc crops, 50 Drishti-GS1, 26 CHASE_DB1 and 20 HRF full photos from
../shared/data (156 photos; symbolic links). GradCAM is what a user would write instead: decode with
Pillow, resize to the input, one GradCAM call on the CAM layer; timed on the frozen model the app uses
and on a copy whose weights require grad (the usual state of a freshly loaded torchvision model).

Memory: peak RSS (the process and its loader workers) of ``heatmap --data`` on the folder and on the
folder repeated ten times (1,560 photos), each in a fresh process.

    python bench/bench_heatmap_data.py [--batch-size 16] [--workers N] [--skip-rss]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
PICK = (
    ("acrima/images", "*.jpg", 60),
    ("drishti_gs1/images", "*", 50),
    ("chase_db1/images", "*", 26),
    ("hrf/images", "*.jpg", 20),
)


def make_folder(folder: Path, repeats: int = 1, source: Path | None = None, copies: int = 1) -> list[Path]:
    """The benchmark folder (symbolic links): the mixed pick, or ``copies`` links to each photo of ``source``."""
    if source is not None:
        photos = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".png", ".tif")) * copies
    else:
        photos = []
        for sub, pattern, count in PICK:
            photos += sorted(p for p in (SHARED / sub).glob(pattern) if p.is_file())[:count]
    if len(photos) < 150:
        raise SystemExit(
            f"needs >= 150 photos (found {len(photos)}; the shared data at {SHARED}, or --photos DIR --copies N)"
        )
    links = []
    for r in range(repeats):
        target = folder / f"copy{r:02d}"
        target.mkdir(parents=True, exist_ok=True)
        for photo in photos:
            link = target / f"{len(links):05d}-{photo.parent.parent.name}-{photo.name}"
            if not link.exists():
                link.symlink_to(photo.resolve())
            links.append(link)
    return links


def gradcam_loop(model, photos) -> float:
    import cv2
    import numpy as np
    import torch
    from PIL import Image
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    size = model.spec.input_size
    layer = dict(model.named_modules())[model.cam_layer]
    started = time.perf_counter()
    with GradCAM(model=model, target_layers=[layer]) as cam:
        for path in photos:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            x = (
                torch.from_numpy(cv2.resize(rgb, (size, size)))
                .permute(2, 0, 1)
                .float()
                .div(255)[None]
                .requires_grad_(True)
            )
            cam(input_tensor=x, targets=[ClassifierOutputTarget(model.glaucoma_index)])
    return time.perf_counter() - started


def cli(argv) -> float:
    from fundus_viewer.cli.main import main

    started = time.perf_counter()
    code = main(argv)
    if code not in (0, 1):
        raise SystemExit(f"fundus-viewer {' '.join(map(str, argv[:3]))} failed ({code})")
    return time.perf_counter() - started


def peak_rss(folder: Path, batch_size: int, workers: int | None) -> dict:
    """In a fresh process: ``heatmap --data folder``, then its peak RSS and its workers'."""
    code = (
        f"import sys, resource, json; sys.argv=['x']; from fundus_viewer.cli.main import main; "
        f"main(['heatmap', '--data', {str(folder)!r}, '--out', {str(folder.parent / ('out-' + folder.name))!r}, "
        f"'--batch-size', '{batch_size}', '--no-progress'"
        + (f", '--workers', '{workers}'" if workers is not None else "")
        + "]); "
        "print(json.dumps({'self': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "'workers': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(ran.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--photos",
        type=Path,
        help="a folder of photos instead of the mixed pick (e.g. ../shared/data/hrf/full, 3504 x 2336)",
    )
    parser.add_argument("--copies", type=int, default=1, help="with --photos: link each photo this many times")
    args = parser.parse_args()

    from fundus_viewer.core.models.checkpoint import load_classifier

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = make_folder(tmp / "one", source=args.photos, copies=args.copies)
        folder = tmp / "one" / "copy00"
        model = load_classifier(None)
        trainable = copy.deepcopy(model).requires_grad_(True)
        data_args = ["--batch-size", str(args.batch_size), "--no-progress"] + (
            ["--workers", str(args.workers)] if args.workers is not None else []
        )
        # warm-up: one photo through each path (allocators, first-call costs)
        gradcam_loop(model, photos[:2])
        cli(["heatmap", str(photos[0]), "--out", str(tmp / "warm")])
        seconds = {
            "GradCAM loop (frozen model)": gradcam_loop(model, photos),
            "GradCAM loop (weights require grad)": gradcam_loop(trainable, photos),
            "heatmap IMAGE... (per photo, full-size .npy + PNG)": cli(
                ["heatmap", *map(str, photos), "--out", str(tmp / "list")]
            ),
            f"heatmap --data (batch {args.batch_size})": cli(
                ["heatmap", "--data", str(folder), "--out", str(tmp / "data"), *data_args]
            ),
            f"heatmap --data --cup-disc (batch {args.batch_size})": cli(
                ["heatmap", "--data", str(folder), "--out", str(tmp / "data-cd"), "--cup-disc", *data_args]
            ),
        }
        n = len(photos)
        ours = seconds[f"heatmap --data (batch {args.batch_size})"]
        print(f"\n{n} photos, {os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}")
        print("| run | photos/s | heatmap --data vs it |\n|---|---|---|")
        for name, s in seconds.items():
            print(f"| {name} | {n / s:.1f} | {s / ours:.2f}x |")
        if not args.skip_rss:
            make_folder(tmp / "ten", repeats=10, source=args.photos, copies=args.copies)
            small = peak_rss(tmp / "one", args.batch_size, args.workers)
            large = peak_rss(tmp / "ten", args.batch_size, args.workers)
            print(
                f"\npeak RSS, heatmap --data: {n} photos {small['self'] / 1024:.0f} MB "
                f"(largest worker {small['workers'] / 1024:.0f} MB); "
                f"{10 * n} photos {large['self'] / 1024:.0f} MB (largest worker {large['workers'] / 1024:.0f} MB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
