"""``fundus-viewer sanity-check IMAGE... --out DIR``: does each map depend on what the network learned?
Cascading randomisation of the weights from the top layer down (Adebayo et al. 2018)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fundus_viewer.cli.common import METHOD_KEYS, add_model_options, make_output_dir, open_visualizer, parse_methods

if TYPE_CHECKING:
    from fundus_viewer.core.photo import PreparedPhoto
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-viewer sanity-check", description=__doc__)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="sanity.json, sanity.csv and sanity-METHOD.png go here"
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHOD_KEYS),
        help="pathology (its RL and RNFLD maps), cam, gbp, smoothgrad, occlusion",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=10,
        help="cascade steps; more weighted units (a conv with its norm) than this are re-initialised in blocks (10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the re-initialisation")
    add_model_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.photo import prepare_photo
    from fundus_viewer.core.sanity import randomisation_test
    from fundus_viewer.core.sanity_report import format_table, write_outputs
    from fundus_viewer.core.visualization.maps import build_maps
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    methods = parse_methods(args.methods)
    out = make_output_dir(args.out)
    visualizer = open_visualizer(args)
    photos = [prepare_photo(load_image(path)) for path in args.images]

    def explain(model, photo):
        own = (
            visualizer
            if model is visualizer.model
            else PathologyVisualizer(model, layers=visualizer.layers, device=visualizer.device)
        )
        maps = build_maps(own, photo, methods)
        return {name: maps.full(name) for name in maps.maps}

    from fundus_viewer.core.sanity import layers_to_the_logit

    _, _, x = visualizer.prepare(photos[0])
    layers = layers_to_the_logit(visualizer.model, x, visualizer.model.glaucoma_index)
    result = randomisation_test(
        visualizer.model,
        photos,
        explain,
        args.max_steps,
        args.seed,
        copy_model=lambda: load_classifier(args.model, device=visualizer.device),
        layers=layers,
        regions=[seen_field(visualizer, p) for p in photos],
        progress=lambda done, total: print(f"[{done}/{total}] cascade step", file=sys.stderr),
    )
    print(format_table(result))
    written = write_outputs(result, Path(out), [str(p) for p in args.images])
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


def seen_field(visualizer: PathologyVisualizer, photo: PreparedPhoto):
    from fundus_viewer.core.sanity import compared_region

    _, transform, _ = visualizer.prepare(photo)
    return compared_region(photo.fov.mask(), transform.seen_region)
