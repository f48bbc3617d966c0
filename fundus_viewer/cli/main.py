"""``fundus-viewer``: no sub-command (or photo paths) opens the app; a sub-command runs headless."""

from __future__ import annotations

import sys
from importlib import import_module

from fundus_viewer import __version__

SUBCOMMANDS = {
    "classify": ("fundus_viewer.cli.classify", "glaucoma probability per photo"),
    "heatmap": ("fundus_viewer.cli.heatmap", "RL / RNFLD heat maps and baselines as .npy and PNG overlays"),
    "report": ("fundus_viewer.cli.report", "one self-contained HTML report of a photo or a folder"),
    "evaluate": (
        "fundus_viewer.cli.evaluate",
        "the paper's Table 1 (localisation accuracy) for COCO boxes, and more metrics",
    ),
    "sanity-check": (
        "fundus_viewer.cli.sanity_check",
        "do the maps change when the network's weights are randomised? (Adebayo et al.)",
    ),
    "propose-boxes": (
        "fundus_viewer.cli.propose_boxes",
        "RL / RNFLD box proposals from the maps, as COCO JSON marked as proposals",
    ),
    "segment-vessels": ("fundus_viewer.cli.segment_vessels", "vessel probability and mask per photo"),
    "import-model": (
        "fundus_viewer.cli.import_model",
        "your own torchvision / timm classifier as a Fundus Viewer model",
    ),
    "synthesize": ("fundus_viewer.cli.synthesize", "synthetic fundus photos from vessel maps (Patho-GAN)"),
    "gan-report": ("fundus_viewer.cli.gan_report", "Patho-GAN vs baseline: heat-map L1, FID / KID, P(glaucoma)"),
    "study": (
        "fundus_viewer.cli.study",
        "blinded rating studies: create, rate, analyze, status, lock, rater-copy, merge",
    ),
}

USAGE = f"""usage: fundus-viewer [PHOTO_OR_FOLDER]          open the app
       fundus-viewer --self-test                 open the app on a bundled sample, compute its maps, exit 0
       fundus-viewer COMMAND [options]           run a headless tool

commands:
{chr(10).join(f"  {name:<16} {text}" for name, (_, text) in SUBCOMMANDS.items())}

Run `fundus-viewer COMMAND --help` for a command's options."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return run_command(argv[0], argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "--self-test":
        from fundus_viewer.gui.app import run_self_test

        return run_self_test()
    if argv and argv[0] == "--version":
        print(f"fundus-viewer {__version__}")
        return 0
    if argv and argv[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        print(f"\nfundus-viewer: error: unknown option {argv[0]}", file=sys.stderr)
        return 2
    from fundus_viewer.gui.app import run_app

    return run_app(argv)


def run_command(name: str, argv: list[str]) -> int:
    from fundus_viewer.core.errors import FundusViewerError

    module = import_module(SUBCOMMANDS[name][0])
    args = module.build_parser().parse_args(argv)
    try:
        return module.run(args)
    except FundusViewerError as exc:
        print(f"fundus-viewer {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fundus-viewer {name}: interrupted", file=sys.stderr)
        return 130
