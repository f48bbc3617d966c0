"""``fundus-train model-card``: a Markdown model card from what a checkpoint carries about itself.

Everything in the card comes from the checkpoint's metadata (data, split, command, time, metrics) and,
for a classifier, from a ``disc-evidence --json`` file; the author adds only the free-text notes.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-train model-card", description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="the card (.md)")
    parser.add_argument("--evidence", help="JSON written by fundus-train disc-evidence --json")
    parser.add_argument("--report", help="JSON written by fundus-viewer gan-report --json (for a generator)")
    parser.add_argument(
        "--loso",
        nargs="+",
        metavar="JSON",
        help="JSON written by fundus-train loso-report --json (a classifier's recipe, each source "
        "held out): the shipped recipe's first, then any other recipes compared with it",
    )
    parser.add_argument("--notes", help="a Markdown file with the author's notes (strengths, weaknesses)")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("model-card", build_parser(), write_card, argv)


def write_card(args: argparse.Namespace) -> Path:
    from safetensors import safe_open

    from fundus_viewer.core.cup_disc import KIND as CUP_DISC_KIND
    from fundus_viewer.core.errors import CheckpointError
    from fundus_viewer.core.gan.checkpoint import KIND as GAN_KIND
    from fundus_viewer.core.models.checkpoint import KIND, read_checkpoint
    from fundus_viewer.core.vessels import KIND as VESSEL_KIND

    path = Path(args.model)
    try:
        with safe_open(str(path), framework="pt") as handle:
            kind = (handle.metadata() or {}).get("kind")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a model checkpoint ({exc})") from None
    if kind == GAN_KIND:
        card = gan_card(
            path,
            read_checkpoint(path, GAN_KIND, with_tensors=False)[0],
            json.loads(Path(args.report).read_text()) if args.report else None,
        )
    elif kind == CUP_DISC_KIND:
        card = cup_disc_card(path, read_checkpoint(path, CUP_DISC_KIND, with_tensors=False)[0])
    elif kind == VESSEL_KIND:
        card = vessel_card(path, read_checkpoint(path, VESSEL_KIND, with_tensors=False)[0])
    else:
        spec, _ = read_checkpoint(path, KIND, with_tensors=False)
        card = classifier_card(
            path, spec, json.loads(Path(args.evidence).read_text()) if args.evidence else None, Path(args.out)
        )
        for k, loso in enumerate(args.loso or []):
            card += "\n" + loso_section(json.loads(Path(loso).read_text()), shipped=k == 0)
    if args.notes:
        card += "\n" + Path(args.notes).read_text()
    out = Path(args.out)
    atomic_write(out, card)
    print(f"wrote {out}")
    return out


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def _training_lines(training: dict) -> list[str]:
    minutes = training.get("seconds", 0) / 60
    return [
        f"- Command: `{training.get('command', '?')}`",
        f"- Data: `{training.get('data', '?')}`; seed {training.get('seed', '?')}"
        + (f"; preset `{training['preset']}`" if "preset" in training else ""),
        f"- Trained for {training.get('epochs_run', '?')} epochs in {minutes:.0f} min on "
        f"{training.get('machine', 'an unrecorded machine')} (torch {training.get('torch', '?')})",
        f"- Settings: `{json.dumps(training.get('settings', {}))}`",
    ]


def classifier_card(path: Path, spec: dict, evidence: dict | None, card: Path | None = None) -> str:
    """The card's Markdown; its reliability diagram is drawn beside ``card`` (default: beside the model)."""
    training, metrics = spec.get("training", {}), spec.get("metrics", {})
    lines = [
        f"# Model card: `{path.name}` (glaucoma classifier)",
        "",
        f"- Architecture: {spec['arch']} "
        f"({json.dumps(spec['arch_options']) if spec.get('arch_options') else 'default width'}), "
        f"input {spec['input_size']} px (square resized to {spec.get('resize')}, centre crop), "
        f"crop `{spec.get('crop')}` ({spec.get('disc_diameters')} disc diameters), {_size(path)}",
        f"- Output: softmax over {spec['class_names']}; glaucoma = index {spec['glaucoma_index']}",
        *_training_lines(training),
        "",
        "## Data and split",
        "",
        *_table(
            ["split", "photos per data set / label"],
            [
                [split, ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))]
                for split, counts in training.get("split_counts", {}).items()
            ],
        ),
        "",
        f"## Test metrics (best validation epoch; {_call(spec)})",
        "",
        *_table(
            ["test set", "n (glaucoma)", "AUC (95% bootstrap CI)", "accuracy", "sensitivity", "specificity", "ECE"],
            [
                [
                    name,
                    f"{r['n']} ({r['n_glaucoma']})",
                    f"{r['auc']:.3f} ({r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f})",
                    f"{r['accuracy']:.3f}",
                    f"{r['sensitivity']:.3f}",
                    f"{r['specificity']:.3f}",
                    f"{r['ece']:.3f}" if "ece" in r else "-",
                ]
                for name, r in metrics.get("test", {}).items()
            ],
        ),
        *_calibration_lines(spec, card or path),
        *_ood_lines(spec),
    ]
    validation = metrics.get("validation")
    if validation:
        lines += [
            "",
            f"Validation (epoch {validation.get('epoch')}, during training, uncalibrated call at 0.5): "
            f"AUC {validation['auc']:.3f}, accuracy {validation['accuracy']:.3f}, n {validation['n']}.",
        ]
    if evidence:
        lines += [
            "",
            "## Does it look at the optic disc?",
            "",
            f"On {evidence['photos']} photos with expert disc masks, the disc's bounding box covers "
            f"{evidence['box_share_percent']:.2f}% of a photo.",
            "A flat map scores 1x.",
            "",
            *_table(
                ["map", "heat in the disc box", "ratio to the box's share", "median per photo"],
                [
                    [
                        method,
                        f"{r['heat_in_box_percent']:.1f}%",
                        f"{r['ratio_to_box_share']:.2f}x",
                        f"{r['median_per_photo_ratio']:.2f}x",
                    ]
                    for method, r in evidence["methods"].items()
                ],
            ),
        ]
        lines += _evidence_tests(evidence)
        lines += metrics_lines(evidence)
    return "\n".join(lines) + "\n"


METRIC_HEADERS = {
    "accuracy": "heat in region",
    "pointing-game": "pointing game",
    "rank-accuracy": "rank accuracy",
    "top-k": "top-2% in region",
    "auc": "AUC",
    "deletion": "deletion area (lower)",
    "insertion": "insertion area (higher)",
}


def metrics_lines(evidence: dict) -> list[str]:
    """Every metric of ``disc-evidence --metrics`` per map and region, and the first map's paired tests."""
    tables = evidence.get("metrics")
    if not tables:
        return []
    lines = [
        "",
        "## Localisation and faithfulness metrics (`disc-evidence --metrics`)",
        "",
        "Mean +- SD over photos; `chance` is a flat map (the region's share for the first four, 0.5 for AUC, "
        "pixels in random order for the curves). "
        "Deletion and insertion are areas under P(glaucoma) as the model input's pixels are blacked out "
        "(deletion) or restored into a blurred copy (insertion), most relevant first, in 20 steps; "
        "they do not depend on the region. A map without heat has no score.",
    ]
    for index, (region, by_metric) in enumerate(tables.items()):
        metrics = [
            m for m in by_metric if index == 0 or m not in ("deletion", "insertion")
        ]  # the curves are the same on every region
        maps = list(next(iter(by_metric.values()))["methods"])
        reference = maps[0]

        def cell(r: dict[str, Any]) -> str:
            return "-" if r["mean"] is None else f"{r['mean']:.3f} +- {r['sd'] or 0:.3f} ({r['n']})"

        lines += [
            "",
            f"On the {region} (n photos in brackets):",
            "",
            *_table(
                ["map", *[METRIC_HEADERS[m] for m in metrics]],
                [[m, *[cell(by_metric[k]["methods"][m]) for k in metrics]] for m in maps],
            ),
            "",
            f"{reference} minus each other map, paired over the photos both scored (Wilcoxon signed-rank p):",
            "",
            *_table(
                ["map", *[METRIC_HEADERS[m] for m in metrics]],
                [
                    [
                        m,
                        *[
                            (lambda t: f"{t['mean_difference']:+.3f} (p {t['wilcoxon_p']:.2g})" if t else "-")(
                                by_metric[k]["paired"].get(m)
                            )
                            for k in metrics
                        ],
                    ]
                    for m in maps[1:]
                ],
            ),
        ]
    return lines


def _evidence_tests(evidence: dict) -> list[str]:
    """Table 1 on the rim and the paired tests of ours against each baseline, where disc-evidence made them."""
    lines = []
    reference = next(iter(evidence["methods"]))
    if evidence.get("rim"):
        lines += [
            "",
            "The neuroretinal rim (disc and not cup, pixel by pixel) covers "
            f"{evidence['rim_share_percent']:.2f}% of a photo "
            "(the paper's Table 1, with the rim as the rim-loss region; mean +- SD over photos):",
            "",
            *_table(
                ["map", "heat in the rim", "ratio to its share", "maps without heat"],
                [
                    [
                        m,
                        f"{r['heat_in_box_percent']:.1f} +- {r['sd_percent']:.1f}%",
                        f"{r['ratio_to_box_share']:.2f}x",
                        str(r["photos_without_heat"]),
                    ]
                    for m, r in evidence["rim"].items()
                ],
            ),
        ]
    for key, region in (("paired_disc_box", "disc box"), ("paired_rim", "rim")):
        tests = evidence.get(key)
        if tests:
            lines += [
                "",
                f"Paired, {reference} minus each baseline on the {region} (photos where both maps have heat):",
                "",
                *_table(
                    ["baseline", "photos", "difference (points)", "paired t p", "Wilcoxon p"],
                    [
                        [
                            m,
                            str(t["n_pairs"]),
                            f"{100 * t['mean_difference']:+.1f}",
                            f"{t['t_p']:.2g}",
                            f"{t['wilcoxon_p']:.2g}",
                        ]
                        for m, t in tests.items()
                    ],
                ),
            ]
    return lines


def loso_section(loso: dict, shipped: bool = True) -> str:
    from trainer.loso_report import markdown

    title = "this recipe" if shipped else "another recipe, not shipped: for comparison"
    lines = [
        f"## Leave-one-source-out ({title}; each labelled source held out in turn)",
        "",
        "Each row is a run that never saw the held-out source in training or validation, "
        "measured there at its own calibrated call.",
        *([f"Recipe: {loso['recipe']}"] if loso.get("recipe") else []),
        "",
        *markdown(loso["runs"]),
    ]
    return "\n".join(lines) + "\n"


def _call(spec: dict) -> str:
    calibration = spec.get("calibration") or {}
    if not calibration:
        return "threshold 0.5 on P(glaucoma), uncalibrated"
    return f"the model's call, P >= {calibration['threshold']:.3f} after temperature scaling"


def _calibration_lines(spec: dict, path: Path) -> list[str]:
    """The temperature, the call and what it did on validation; ECE before / after and the reliability
    diagram of the test split (drawn beside the card)."""
    calibration, test = spec.get("calibration") or {}, spec.get("metrics", {}).get("test", {}).get("all", {})
    if not calibration:
        return []
    validation = calibration.get("validation") or {}
    lines = [
        "",
        "## Calibration and the call",
        "",
        f"- Temperature {calibration['temperature']:.3f}, fitted on {calibration['fitted_on']} "
        "(NLL, Guo et al. 2017); it changes no ranking, so no AUC.",
        f"- The call: P(glaucoma) >= {calibration['threshold']:.3f}, "
        f"the lowest threshold with {calibration['operating_point']} there "
        f"(validation sensitivity {validation.get('sensitivity', float('nan')):.3f}, "
        f"specificity {validation.get('specificity', float('nan')):.3f}). "
        "`classify`, the window and this card use it.",
    ]
    if "ece_uncalibrated" in test:
        lines.append(
            "- Expected calibration error on the test split (10 bins): "
            f"{test['ece_uncalibrated']:.3f} before, {test['ece']:.3f} after "
            f"(validation: {validation.get('ece_before', float('nan')):.3f} before, "
            f"{validation.get('ece_after', float('nan')):.3f} after)."
        )
    if test.get("reliability"):
        figure = _reliability_figure(test["reliability"], path.with_name(f"{path.stem}-reliability.png"))
        lines += ["", f"![Reliability diagram of the test split]({figure.name})"]
    return lines


def _ood_lines(spec: dict) -> list[str]:
    rule, measured = spec.get("ood") or {}, spec.get("metrics", {}).get("ood")
    if not rule:
        return []
    lines = [
        "",
        "## Photos unlike the training data",
        "",
        "- Score: cosine distance of the photo's pooled CAM-layer features to the "
        f"{'' if rule['k'] == 1 else str(rule['k']) + 'th '}nearest training photo's "
        f"(deep nearest neighbours); flagged above {rule['threshold']:.4f} ({rule['fitted_on']}).",
    ]
    if measured:
        lines.append(
            f"- Telling the {measured['test_photos']} test photos "
            f"from {measured['other_photos']} photos of other kinds "
            f"({', '.join('/'.join(Path(o).parts[-2:]) for o in measured['others'])}): "
            f"AUC {measured['auc']:.3f}; flagged {100 * measured['flagged_test']:.0f}% of the test photos "
            f"and {100 * measured['flagged_other']:.0f}% of the others."
        )
    return lines


def _reliability_figure(bins: list, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4, 4), dpi=100)
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    mean_p, observed, _counts = zip(*bins, strict=True)  # bins are (mean P, observed, n) rows
    axis.plot(mean_p, observed, marker="o", color="#c0392b", label="test split")
    for x, y, n in bins:
        axis.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axis.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean P(glaucoma) in the bin",
        ylabel="observed glaucoma fraction",
        title="Reliability (photos per bin)",
    )
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    atomic_write(out, partial(figure.savefig, format=out.suffix.lstrip(".") or "png"))
    plt.close(figure)
    return out


def vessel_card(path: Path, spec: dict) -> str:
    training, metrics = spec.get("training", {}), spec.get("metrics", {})
    lines = [
        f"# Model card: `{path.name}` (vessel segmenter)",
        "",
        f"- Architecture: U-Net, {spec['base']} base channels, depth {spec['depth']}; photos rescaled to a "
        f"{spec['fov_diameter']} px field of view; {_size(path)}",
        f"- Mask threshold {spec['threshold']:.2f} (chosen on validation Dice)",
        *_training_lines(training),
        "",
        "## Split (by subject)",
        "",
    ]
    for split, names in training.get("split", {}).items():
        lines.append(f"- {split} ({len(names)}): {', '.join(names)}")
    lines += [
        "",
        "## Test metrics (inside the field of view, original pixel grid)",
        "",
        *_table(
            ["test set", "images", "Dice", "sensitivity", "specificity", "AUC"],
            [
                [name, str(r["images"]), *(f"{r[k]:.4f}" for k in ("dice", "sensitivity", "specificity", "auc"))]
                for name, r in metrics.get("test", {}).items()
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def cup_disc_card(path: Path, spec: dict) -> str:
    training, metrics = spec.get("training", {}), spec.get("metrics", {})
    visible = spec["diameters"] * spec["input_size"] / spec["resize"]
    lines = [
        f"# Model card: `{path.name}` (optic disc and cup segmenter)",
        "",
        f"- Architecture: U-Net, {spec['base']} base channels, depth {spec['depth']}, two outputs (disc, cup); "
        f"input {spec['input_size']} px, "
        f"a square of {visible:.2f} disc diameters around the located disc, then around the disc it segments there "
        f"(other sizes tried where it finds none: `core.cup_disc.segment_disc`); {_size(path)}",
        f"- Output: disc and cup probability; masks at {spec['threshold']:.2f}; "
        "vertical cup-to-disc ratio = cup rows / disc rows (cup inside the disc)",
        *_training_lines(training),
        "",
        "## Split",
        "",
    ]
    for split, names in training.get("split", {}).items():
        lines.append(f"- {split} ({len(names)}): {', '.join(names)}")
    rows = []
    for name in ("validation", "test"):
        r = metrics.get(name)
        if r:
            rows.append(
                [
                    name + (f" (epoch {r['epoch']})" if "epoch" in r else ""),
                    f"{r['photos']} ({r['glaucoma']})",
                    str(r.get("disc_missed", "?")),
                    f"{r['disc_dice']:.3f}",
                    f"{r['cup_dice']:.3f}",
                    f"{r['vcdr_mae']:.3f}",
                    f"{r['vcdr_pearson_r']:.2f}",
                    f"{r['auc_vcdr']:.3f}",
                    f"{r['auc_expert_vcdr']:.3f}",
                ]
            )
    lines += [
        "",
        "## Metrics (on the photo's grid; expert masks: at least 2 of 4 experts; "
        "the vCDR's figures over the photos with a disc found)",
        "",
        *_table(
            [
                "set",
                "photos (glaucoma)",
                "no disc found",
                "Dice disc",
                "Dice cup",
                "vCDR mean abs. error",
                "vCDR Pearson r",
                "AUC of the vCDR",
                "AUC of the experts' vCDR",
            ],
            rows,
        ),
    ]
    return "\n".join(lines) + "\n"


def gan_card(path: Path, spec: dict, report: dict | None) -> str:
    training = spec.get("training", {})
    minutes = training.get("seconds", 0) / 60
    settings = training.get("settings", {})
    losses = "adversarial" + (
        f" + {spec['lam']:g} x L_patho ({spec['pathology']})"
        if spec["lam"] > 0
        else " only (the paper's baseline: no pathology term)"
    )
    if settings.get("l1"):
        losses += (
            f" + {settings['l1']:g} x L1 reconstruction "
            "(pix2pix's; not in the paper, added for the short laptop schedule)"
        )
    given = (
        "a vessel map"
        + (", the field of view" if spec.get("fov_channel") else "")
        + (", the optic disc and cup masks" if spec.get("disc_cup") else "")
    )
    extras = [
        text
        for flag, text in (
            (
                "fov_channel",
                "the field of view as a condition channel, the photo black outside it (the paper's generator "
                "had to invent the round field from the vessels alone)",
            ),
            (
                "disc_cup",
                f"the disc and cup masks of the cup/disc segmenter (`{training.get('cup_disc', 'bundled')}`; a disc on "
                f"{training.get('disc_found', '?')} of the training photos) as condition channels, so that "
                "`synthesize --vcdr` sets the cup",
            ),
        )
        if spec.get(flag)
    ]
    lines = [
        f"# Model card: `{path.name}` ({'Patho-GAN' if spec['lam'] > 0 else 'baseline'} generator)",
        "",
        f"- Generator: U-Net, {spec['gen_base']} base channels, depth {spec['gen_depth']}, "
        f"from {given} and a noise code ({spec['noise_channels']} plane, sigma {spec['noise_sigma']:g}) "
        f"to a {spec['size']} px RGB photo; {_size(path)}",
        f"- Discriminator (not shipped): PatchGAN on photo + {given}, "
        f"{spec['disc_layers']} strided layers from {spec['disc_base']} channels",
        *[f"- Beyond the paper: {text}" for text in extras],
        f"- Loss: {losses}; two generator updates per discriminator update",
        f"- Classifier behind L_patho: `{training.get('classifier')}`; vessel maps: {training.get('vessels')} "
        "(shipped segmenter unless stated)",
        f"- Command: `{training.get('command', '?')}`",
        f"- Data: `{training.get('data', '?')}`, {training.get('label')} full-field photos; "
        f"seed {training.get('seed')}; preset `{training.get('preset')}`",
        f"- Trained for {training.get('steps_run')} steps "
        f"({training.get('g_steps')} generator, {training.get('d_steps')} discriminator updates) "
        f"in {minutes:.0f} min on {training.get('machine', '?')} (torch {training.get('torch', '?')})",
        f"- Settings: `{json.dumps(settings)}`",
        "",
        "## Split",
        "",
    ]
    for split, names in training.get("split", {}).items():
        lines.append(f"- {split} ({len(names)}): {', '.join(names)}")
    if report:
        scope = report.get("scope") or f"the {len(report['held_out'])} held-out vessel maps"

        def share(value: float | None) -> str:
            return "" if value is None or value != value else f"{100 * value:.0f} %"  # NaN: not measured

        real = report["real"]
        lines += [
            "",
            f"## `fundus-viewer gan-report` on {scope} ({report['samples']} samples each)",
            "",
            *_table(
                [
                    "generator",
                    "lambda",
                    "heat-map L1 to the real photo (mean +- SD)",
                    "FID",
                    "KID x 1000",
                    "P(glaucoma)",
                    "disc found",
                    "round field",
                    "vCDR error",
                ],
                [
                    [
                        r["name"],
                        f"{r['lam']:g}",
                        f"{r['heat_l1_mean']:.4f} +- {r['heat_l1_sd']:.4f}",
                        f"{r['fid']:.2f}",
                        f"{1e3 * r['kid']:.1f} +- {1e3 * r['kid_sd']:.1f}",
                        f"{r['p_glaucoma']:.3f}",
                        share(r.get("disc_found")),
                        share(r.get("fov_round")),
                        "" if r.get("vcdr_mae") is None or r["vcdr_mae"] != r["vcdr_mae"] else f"{r['vcdr_mae']:.3f}",
                    ]
                    for r in report["generators"]
                ]
                + [
                    [
                        "real photos (reference)",
                        "",
                        "",
                        f"{real['fid_half_vs_half']:.2f} (half vs half)",
                        f"{1e3 * real['kid_half_vs_half']:.1f}",
                        f"{real['p_glaucoma']:.3f}",
                        share(real.get("disc_found")),
                        share(real.get("fov_round")),
                        "",
                    ]
                ],
            ),
            "",
            "FID / KID use the classifier's pooled last-conv features on its own disc crop (no downloaded weights), "
            "against all real training and held-out photos.",
        ]
    return "\n".join(lines) + "\n"
