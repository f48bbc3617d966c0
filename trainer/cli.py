"""``fundus-train`` command line. Sub-commands register here as they are built."""

from __future__ import annotations

import argparse
import sys

from fundus_viewer import __version__

# name -> (module, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "classifier": ("trainer.classifier", "train the glaucoma classifier"),
    "vessels": ("trainer.vessels", "train the U-Net vessel segmenter"),
    "gan": ("trainer.gan", "train Patho-GAN (or its baseline with --lambda 0)"),
    "calibrate": (
        "trainer.calibrate",
        "temperature and decision threshold of a trained classifier, on its validation split",
    ),
    "loso-report": ("trainer.loso_report", "a recipe's leave-one-source-out runs side by side (for the model card)"),
    "disc-evidence": ("trainer.disc_evidence", "how much of a classifier's heat falls on the optic disc"),
    "cup-disc": ("trainer.cup_disc", "train the optic disc and cup segmenter (vertical cup-to-disc ratio)"),
    "cup-disc-report": ("trainer.cup_disc_report", "how well a cup/disc segmenter measures the cup-to-disc ratio"),
    "model-card": ("trainer.model_card", "write a model card from a checkpoint's metadata"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-train", description="Train Fundus Viewer's models.")
    parser.add_argument("--version", action="version", version=f"fundus-train {__version__}")
    sub = parser.add_subparsers(dest="command")
    for name, (_, text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        from importlib import import_module

        return import_module(SUBCOMMANDS[argv[0]][0]).main(argv[1:])
    parser = build_parser()
    parser.parse_args(argv)  # --version and --help exit here
    parser.print_help()
    return 2
