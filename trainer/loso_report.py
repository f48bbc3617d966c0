"""``fundus-train loso-report``: one recipe's leave-one-source-out runs side by side.

Each checkpoint comes from ``fundus-train classifier --hold-out DATASET``: it never saw that data set, so
its test figures are what the recipe does on a camera it was not trained or chosen on. The table goes
into the model card (``fundus-train model-card --loso JSON``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train loso-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", nargs="+", required=True, metavar="CKPT", help="classifier checkpoints of --hold-out runs"
    )
    parser.add_argument("--recipe", default="", help="a line saying what the runs share (for the card)")
    parser.add_argument("--json", metavar="FILE", help="also write the table here")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("loso-report", build_parser(), run, argv)


def loso_rows(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Per run: the held-out source and its test figures at the run's own call."""
    from fundus_viewer.core.models.checkpoint import read_spec
    from trainer.classifier import raise_data_error

    rows = []
    for path in paths:
        spec = read_spec(path)
        held = spec.training.get("hold_out")
        test = spec.metrics.get("test", {}).get("all")
        if not held or not test:
            raise_data_error(
                f"{path}: not a finished --hold-out run "
                f"(held out: {held or 'nothing'}; test figures: {'yes' if test else 'none'})"
            )
        rows.append(
            {
                "held_out": held,
                "model": str(path),
                "n": test["n"],
                "n_glaucoma": test["n_glaucoma"],
                "auc": test["auc"],
                "auc_ci95": test["auc_ci95"],
                "threshold": test.get("threshold", 0.5),
                "accuracy": test["accuracy"],
                "sensitivity": test["sensitivity"],
                "specificity": test["specificity"],
                "ece": test.get("ece", math.nan),
                "epochs": spec.training.get("epochs_run"),
                "cdr_head": bool(spec.arch_options.get("cdr_head")),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| held-out source | n (glaucoma) | AUC (95% CI) | call at | accuracy | sensitivity | specificity | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['held_out']} | {r['n']} ({r['n_glaucoma']}) | "
            f"{r['auc']:.3f} ({r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f}) | {r['threshold']:.3f} | "
            f"{r['accuracy']:.3f} | {r['sensitivity']:.3f} | {r['specificity']:.3f} | {r['ece']:.3f} |"
        )
    return lines


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = loso_rows(args.models)
    print("\n".join(markdown(rows)))
    if args.json:
        atomic_write(args.json, json.dumps({"recipe": args.recipe, "runs": rows}, indent=1))
    return rows
