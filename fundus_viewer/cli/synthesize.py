"""``fundus-viewer synthesize --vessels PATH... --out DIR``: synthetic fundus photos from vessel maps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer synthesize",
        description="Synthetic fundus photos from vessel maps (grey images: probability or mask) or from photos, "
        "whose vessels are segmented first. Writes STEM.synthetic-K.png (and STEM.vessels.png for a photo), black "
        "outside the field of view (a photo's own; a vessel map's centred circle). A generator trained with --disc-cup "
        "also takes the optic disc and cup: a photo's segmented ones, or drawn where a vessel map's tree converges; "
        "--vcdr sets the cup's vertical cup-to-disc ratio (written as STEM.disc-cup.png).",
    )
    parser.add_argument("--vessels", nargs="+", required=True, metavar="PATH", help="vessel maps or photos")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--model", metavar="CKPT", help="generator checkpoint; default: the bundled Patho-GAN")
    parser.add_argument(
        "--baseline", action="store_true", help="use the bundled baseline generator (no pathology term)"
    )
    parser.add_argument("--segmenter", metavar="CKPT", help="vessel segmenter for photos; default: the bundled one")
    parser.add_argument(
        "--vcdr",
        type=float,
        metavar="V",
        help="vertical cup-to-disc ratio of the cup given to a --disc-cup generator (0-1; "
        "default: a photo's own cup, 0.4 for a vessel map)",
    )
    parser.add_argument("--cup-disc", metavar="CKPT", help="cup/disc segmenter for photos; default: the bundled one")
    parser.add_argument("--n", type=int, default=1, help="synthetic photos per vessel map (different noise codes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto")
    return parser


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from fundus_viewer.core.device import describe_device, select_device
    from fundus_viewer.core.errors import ImageLoadError
    from fundus_viewer.core.gan.checkpoint import load_generator
    from fundus_viewer.core.gan.export import write_vessel_map
    from fundus_viewer.core.gan.synthesis import is_vessel_map, synthesis_input, synthesize
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.overlay import write_png

    device = select_device(args.device)
    generator = load_generator(args.model, device=device, which="baseline" if args.baseline else "patho-gan")
    size = generator.spec.size
    print(f"device: {describe_device(device)}; generator {size} px, lambda {generator.spec.lam:g}", file=sys.stderr)
    if args.vcdr is not None and not generator.spec.disc_cup:
        print(
            "synthesize: error: --vcdr needs a generator trained with disc and cup masks "
            "(fundus-train gan --disc-cup); this one takes none",
            file=sys.stderr,
        )
        return 2
    if args.vcdr is not None and not 0 < args.vcdr < 1:
        print(f"synthesize: error: --vcdr {args.vcdr:g}: a ratio between 0 and 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    segmenter, cup_disc, inputs, stems, failures = None, None, [], [], 0
    for path in args.vessels:
        try:
            rgb = load_image(path).rgb
        except ImageLoadError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failures += 1
            continue
        if not is_vessel_map(rgb):
            if segmenter is None:
                from fundus_viewer.core.vessels import load_vessel_segmenter

                segmenter = load_vessel_segmenter(args.segmenter, device=device)
            if cup_disc is None and generator.spec.disc_cup:
                from fundus_viewer.core.cup_disc import load_cup_disc_segmenter

                cup_disc = load_cup_disc_segmenter(args.cup_disc, device=device)
        try:
            given = synthesis_input(generator.spec, rgb, segmenter, cup_disc, args.vcdr)
        except ValueError as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            failures += 1
            continue
        stem = Path(path).stem
        if given.disc_drawn and given.photo is not None:
            print(
                f"note: {path}: the cup/disc segmenter found no disc; one is drawn where the vessel tree converges",
                file=sys.stderr,
            )
        if given.photo is not None:
            write_vessel_map(out, stem, given.vessels)
        if given.disc is not None:  # what the generator was told: disc grey, cup white
            write_png(
                out / f"{stem}.disc-cup.png", np.round((given.disc * 0.5 + given.cup * 0.5) * 255).astype(np.uint8)
            )
        inputs.append(given)
        stems.append(stem)
    if inputs:
        conditions = np.stack([given.condition(generator.spec) for given in inputs])
        images = synthesize(
            generator, conditions, args.n, args.seed, args.batch_size, fov=np.stack([given.fov for given in inputs])
        )
        for stem, group in zip(stems, images, strict=True):
            for k, image in enumerate(group):
                write_png(out / f"{stem}.synthetic-{k}.png", image)
        print(f"{len(inputs) * args.n} synthetic photo(s) -> {out}", file=sys.stderr)
    return 1 if failures else 0
