"""``fundus-viewer synthesize --vessels PATH... --out DIR``: synthetic fundus photos from vessel maps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer synthesize",
        description="Synthetic fundus photos from vessel maps (grey images: probability or mask) or from photos, "
        "whose vessels are segmented first. Writes STEM.synthetic-K.png (and STEM.vessels.png for a photo).",
    )
    parser.add_argument("--vessels", nargs="+", required=True, metavar="PATH", help="vessel maps or photos")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--model", metavar="CKPT", help="generator checkpoint; default: the bundled Patho-GAN")
    parser.add_argument("--baseline", action="store_true", help="use the bundled baseline generator (no pathology term)")
    parser.add_argument("--segmenter", metavar="CKPT", help="vessel segmenter for photos; default: the bundled one")
    parser.add_argument("--n", type=int, default=1, help="synthetic photos per vessel map (different noise codes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto")
    return parser


def run(args) -> int:
    import numpy as np

    from fundus_viewer.core.device import describe_device, select_device
    from fundus_viewer.core.errors import ImageLoadError
    from fundus_viewer.core.gan.checkpoint import load_generator
    from fundus_viewer.core.gan.synthesis import is_vessel_map, photo_vessel_input, synthesize, vessel_map_input
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.overlay import write_png

    device = select_device(args.device)
    generator = load_generator(args.model, device=device, which="baseline" if args.baseline else "patho-gan")
    size = generator.spec.size
    print(f"device: {describe_device(device)}; generator {size} px, lambda {generator.spec.lam:g}", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    segmenter, maps, stems, failures = None, [], [], 0
    for path in args.vessels:
        try:
            rgb = load_image(path).rgb
        except ImageLoadError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failures += 1
            continue
        if is_vessel_map(rgb):
            vessels = vessel_map_input(rgb, size)
        else:
            if segmenter is None:
                from fundus_viewer.core.vessels import load_vessel_segmenter

                segmenter = load_vessel_segmenter(args.segmenter, device=device)
            vessels, _ = photo_vessel_input(rgb, size, segmenter)
            write_png(out / f"{Path(path).stem}.vessels.png", np.round(vessels * 255).astype(np.uint8))
        maps.append(vessels)
        stems.append(Path(path).stem)
    if maps:
        images = synthesize(generator, np.stack(maps), args.n, args.seed, args.batch_size)
        for stem, group in zip(stems, images):
            for k, image in enumerate(group):
                write_png(out / f"{stem}.synthetic-{k}.png", image)
        print(f"{len(maps) * args.n} synthetic photo(s) -> {out}", file=sys.stderr)
    return 1 if failures else 0
