"""``fundus-viewer segment-vessels IMAGE... --out DIR``: vessel probability and mask on the photo's grid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fundus_viewer.cli.common import add_data_options, check_photos_or_data, make_output_dir

if TYPE_CHECKING:
    import torch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer segment-vessels",
        description="Write STEM.vessels-prob.png (probability x 255, 8-bit) and STEM.vessels-mask.png "
        "(0/255 at the model's threshold), both on the photo's own pixel grid.",
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--model", metavar="CKPT", help="vessel segmenter checkpoint; default: the bundled one")
    parser.add_argument("--device", default="auto")
    add_data_options(parser, amp=False)
    return parser


def run_data(args: argparse.Namespace) -> int:
    from fundus_viewer.cli.common import run_on_data

    def make_task(device: torch.device):
        from fundus_viewer.core.batch.tasks import VesselTask
        from fundus_viewer.core.vessels import load_vessel_segmenter

        return VesselTask(load_vessel_segmenter(args.model, device=device))

    return run_on_data(args, make_task)


def run(args: argparse.Namespace) -> int:
    check_photos_or_data(build_parser(), args)
    if args.data:
        return run_data(args)
    import numpy as np

    from fundus_viewer.core.device import describe_device, select_device
    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.overlay import write_png
    from fundus_viewer.core.vessels import load_vessel_segmenter, segment_vessels

    out = make_output_dir(args.out)
    device = select_device(args.device)
    print(f"device: {describe_device(device)}", file=sys.stderr)
    model = load_vessel_segmenter(args.model, device=device)
    failed = 0
    for number, path in enumerate(args.images, start=1):
        try:
            photo = load_image(path)
            probability = segment_vessels(model, photo)
        except FundusViewerError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        stem = Path(path).stem
        grey = np.rint(probability * 255).astype(np.uint8)
        mask = np.where(probability >= model.spec.threshold, 255, 0).astype(np.uint8)
        try:
            write_png(out / f"{stem}.vessels-prob.png", grey)
            write_png(out / f"{stem}.vessels-mask.png", mask)
        except OSError as exc:
            raise FundusViewerError(f"could not write to {out}: {exc.strerror or exc}") from None
        print(f"[{number}/{len(args.images)}] {path}: {100 * (mask > 0).mean():.1f}% vessel pixels", file=sys.stderr)
    return 1 if failed else 0
