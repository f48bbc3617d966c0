"""``fundus-train model-card``: a Markdown model card from what a checkpoint carries about itself.

Everything in the card comes from the checkpoint's metadata (data, split, command, time, metrics) and,
for a classifier, from a ``disc-evidence --json`` file; the author adds only the free-text notes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.common import run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-train model-card", description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="the card (.md)")
    parser.add_argument("--evidence", help="JSON written by fundus-train disc-evidence --json")
    parser.add_argument("--notes", help="a Markdown file with the author's notes (strengths, weaknesses)")
    return parser


def main(argv=None) -> int:
    return run_main("model-card", build_parser(), write_card, argv)


def write_card(args) -> Path:
    from fundus_viewer.core.models.checkpoint import KIND, read_checkpoint
    from fundus_viewer.core.vessels import KIND as VESSEL_KIND

    path = Path(args.model)
    try:
        spec, _ = read_checkpoint(path, KIND, with_tensors=False)
        card = classifier_card(path, spec, json.loads(Path(args.evidence).read_text()) if args.evidence else None)
    except Exception as first:  # not a classifier: maybe a vessel segmenter
        try:
            spec, _ = read_checkpoint(path, VESSEL_KIND, with_tensors=False)
        except Exception:
            raise first from None
        card = vessel_card(path, spec)
    if args.notes:
        card += "\n" + Path(args.notes).read_text()
    out = Path(args.out)
    out.write_text(card)
    print(f"wrote {out}")
    return out


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in rows]


def _training_lines(training: dict) -> list[str]:
    minutes = training.get("seconds", 0) / 60
    return [
        f"- Command: `{training.get('command', '?')}`",
        f"- Data: `{training.get('data', '?')}`; seed {training.get('seed', '?')}; preset `{training.get('preset', '?')}`",
        f"- Trained for {training.get('epochs_run', '?')} epochs in {minutes:.0f} min on {training.get('machine', 'an unrecorded machine')} (torch {training.get('torch', '?')})",
        f"- Settings: `{json.dumps(training.get('settings', {}))}`",
    ]


def classifier_card(path: Path, spec: dict, evidence: dict | None) -> str:
    training, metrics = spec.get("training", {}), spec.get("metrics", {})
    lines = [
        f"# Model card: `{path.name}` (glaucoma classifier)",
        "",
        f"- Architecture: {spec['arch']} ({json.dumps(spec['arch_options']) if spec.get('arch_options') else 'default width'}), input {spec['input_size']} px"
        f" (square resized to {spec.get('resize')}, centre crop), crop `{spec.get('crop')}` ({spec.get('disc_diameters')} disc diameters), {_size(path)}",
        f"- Output: softmax over {spec['class_names']}; glaucoma = index {spec['glaucoma_index']}",
        *_training_lines(training),
        "",
        "## Data and split",
        "",
        *_table(["split", "photos per data set / label"],
                [[split, ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))] for split, counts in training.get("split_counts", {}).items()]),
        "",
        "## Test metrics (best validation epoch; threshold 0.5 on P(glaucoma))",
        "",
        *_table(["test set", "n (glaucoma)", "AUC (95% bootstrap CI)", "accuracy", "sensitivity", "specificity"],
                [[name, f"{r['n']} ({r['n_glaucoma']})", f"{r['auc']:.3f} ({r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f})",
                  f"{r['accuracy']:.3f}", f"{r['sensitivity']:.3f}", f"{r['specificity']:.3f}"] for name, r in metrics.get("test", {}).items()]),
    ]
    validation = metrics.get("validation")
    if validation:
        lines += ["", f"Validation (epoch {validation.get('epoch')}): AUC {validation['auc']:.3f}, accuracy {validation['accuracy']:.3f}, n {validation['n']}."]
    if evidence:
        lines += ["", "## Does it look at the optic disc?", "",
                  f"On {evidence['photos']} photos with expert disc masks, the disc's bounding box covers {evidence['box_share_percent']:.2f}% of a photo.",
                  "A flat map scores 1x.", "",
                  *_table(["map", "heat in the disc box", "ratio to the box's share", "median per photo"],
                          [[method, f"{r['heat_in_box_percent']:.1f}%", f"{r['ratio_to_box_share']:.2f}x", f"{r['median_per_photo_ratio']:.2f}x"]
                           for method, r in evidence["methods"].items()])]
    return "\n".join(lines) + "\n"


def vessel_card(path: Path, spec: dict) -> str:
    training, metrics = spec.get("training", {}), spec.get("metrics", {})
    lines = [
        f"# Model card: `{path.name}` (vessel segmenter)",
        "",
        f"- Architecture: U-Net, {spec['base']} base channels, depth {spec['depth']}; photos rescaled to a {spec['fov_diameter']} px field of view; {_size(path)}",
        f"- Mask threshold {spec['threshold']:.2f} (chosen on validation Dice)",
        *_training_lines(training),
        "",
        "## Split (by subject)",
        "",
    ]
    for split, names in training.get("split", {}).items():
        lines.append(f"- {split} ({len(names)}): {', '.join(names)}")
    lines += ["", "## Test metrics (inside the field of view, original pixel grid)", "",
              *_table(["test set", "images", "Dice", "sensitivity", "specificity", "AUC"],
                      [[name, str(r["images"]), *(f"{r[k]:.4f}" for k in ("dice", "sensitivity", "specificity", "auc"))] for name, r in metrics.get("test", {}).items()])]
    return "\n".join(lines) + "\n"
