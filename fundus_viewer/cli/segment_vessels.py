"""``fundus-viewer segment-vessels IMAGE... --out DIR``: vessel probability and mask on the photo's grid."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from fundus_viewer.cli.common import (
    STEM_HELP,
    add_data_options,
    check_photos_or_data,
    distinct_photos,
    make_output_dir,
    unique_stems,
)

if TYPE_CHECKING:
    import torch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer segment-vessels",
        description="Write STEM.vessels-prob.png (probability x 255, 8-bit) and STEM.vessels-mask.png "
        f"(0/255 at the model's threshold), both on the photo's own pixel grid. {STEM_HELP}",
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

    from fundus_viewer.core.atomic import write_error_text
    from fundus_viewer.core.batch.outputs import clean_staging, photo_files
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
    photos = distinct_photos(args.images)
    stems = unique_stems(photos)  # photos sharing a stem get names of their own
    clean_staging(out, stems)  # what a killed run left of these photos' files
    for number, (path, stem) in enumerate(zip(photos, stems, strict=True), start=1):
        try:
            photo = load_image(path)
            probability = segment_vessels(model, photo)
        except FundusViewerError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        grey = np.rint(probability * 255).astype(np.uint8)
        mask = np.where(probability >= model.spec.threshold, 255, 0).astype(np.uint8)
        try:
            with photo_files(out, stem, last=".vessels-mask.png") as staging:  # both PNGs or neither
                write_png(staging / f"{stem}.vessels-prob.png", grey)
                write_png(staging / f"{stem}.vessels-mask.png", mask)
        except FundusViewerError as exc:  # a move that failed: this photo's error, the others go on
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        except OSError as exc:
            raise FundusViewerError(f"could not write to {out}: {write_error_text(exc)}") from None
        share = f"{100 * (mask > 0).mean():.1f}% vessel pixels"
        print(f"[{number}/{len(photos)}] {path} -> {out / stem}.vessels-*.png: {share}", file=sys.stderr)
    return 1 if failed else 0
