"""A study's analysis as text, JSON, CSV and histogram PNGs (for the owner: this is unblinded)."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from dataclasses import asdict
from pathlib import Path

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.study.discrimination import Discrimination, analyze_discrimination
from fundus_viewer.core.study.questions import CALL
from fundus_viewer.core.study.reading import reading_times
from fundus_viewer.core.study.stats import StudyAnalysis, analyze_answers
from fundus_viewer.core.study.store import StudyFile


def analyze_study(study: StudyFile) -> StudyAnalysis:
    """Scores per arm and their tests, reading time per arm, and for a real-or-synthetic study whether
    the raters told the arms apart (the call itself is not a score: it is analysed there only)."""
    task, arms, rows = study.task, study.arms(), study.all_answers()
    questions = [q for q in study.questions if not (task == "real-or-synthetic" and q.key == CALL.key)]
    analysis = analyze_answers(rows, [q.key for q in questions], max(len(q.anchors) for q in questions), arms)
    analysis.task = task
    analysis.reading, analysis.reading_comparisons = reading_times(rows, arms)
    if task == "real-or-synthetic":
        analysis.discrimination = analyze_discrimination(rows, study.settings["real_arm"], arms)
        calls = analyze_answers(
            rows, [CALL.key], len(CALL.anchors), arms
        )  # the call's agreement and consistency, no arm tests
        analysis.agreement += calls.agreement
        analysis.consistency += calls.consistency
    return analysis


def format_number(value, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_p(value) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def format_text(analysis: StudyAnalysis) -> str:
    lines = [
        f"{analysis.n_answers} answers from {len(analysis.raters)} rater(s): {', '.join(analysis.raters) or '-'}",
        "",
    ]
    lines.append("per arm: n cases (a case's score is the mean of its raters'); answers per score 1..N")
    lines.append(f"{'question':<12}{'arm':<14}{'n':>5}{'mean':>8}{'SD':>7}{'median':>8}   answers per score")
    for s in analysis.summaries:
        lines.append(
            f"{s.question:<12}{s.arm:<14}{s.n:>5}{format_number(s.mean):>8}{format_number(s.sd):>7}"
            f"{format_number(s.median, 1):>8}   {' '.join(map(str, s.histogram))}"
        )
    for c in analysis.comparisons:
        lines += [
            "",
            f"{c.question}: {c.arm_a} (n {c.n_a}) vs {c.arm_b} (n {c.n_b})",
            f"  difference of means {format_number(c.mean_difference)} "
            f"(95% CI {format_number(c.difference_ci95[0])} to {format_number(c.difference_ci95[1])})",
            f"  Student t {format_number(c.student_t)}, p {format_p(c.student_p)}   "
            f"Welch t {format_number(c.welch_t)}, p {format_p(c.welch_p)}   "
            f"Mann-Whitney U {format_number(c.mann_whitney_u, 1)}, p {format_p(c.mann_whitney_p)}",
            f"  Cohen's d {format_number(c.cohen_d)} "
            f"(95% CI {format_number(c.cohen_d_ci95[0])} to {format_number(c.cohen_d_ci95[1])}), "
            f"rank-biserial r {format_number(c.rank_biserial)}",
        ]
        if c.paired is not None:
            p = c.paired
            lines.append(
                f"  paired ({p.n_pairs} pairs): difference {format_number(p.mean_difference)}, "
                f"t {format_number(p.t)}, p {format_p(p.p)}; "
                f"Wilcoxon W {format_number(p.wilcoxon_w, 1)}, p {format_p(p.wilcoxon_p)}; "
                f"d_z {format_number(p.dz)} (95% CI {format_number(p.dz_ci95[0])} to {format_number(p.dz_ci95[1])})"
            )
    if analysis.agreement:
        lines += ["", "inter-rater agreement"]
        for a in analysis.agreement:
            kappas = ", ".join(f"{pair} {format_number(k)}" for pair, k in a.kappa.items()) or "-"
            lines.append(
                f"  {a.question}: ICC(2,1) {format_number(a.icc2_1)}, ICC(3,1) {format_number(a.icc3_1)} "
                f"on {a.n_cases} cases; weighted kappa {kappas}"
            )
    if analysis.consistency:
        lines += ["", "intra-rater consistency (repeated cases)"]
        for r in analysis.consistency:
            lines.append(
                f"  {r.rater} / {r.question}: {r.n} repeats, exact agreement {r.exact_agreement:.0%}, "
                f"weighted kappa {format_number(r.kappa)}, "
                f"mean |difference| {format_number(r.mean_absolute_difference)}"
            )
            if r.caveat:
                lines.append(f"    ⚠ {r.caveat}")
    lines += format_reading(analysis)
    if analysis.discrimination is not None:  # the study's question comes first
        lines[1:1] = format_discrimination(analysis.discrimination)
    return "\n".join(lines)


def format_reading(analysis: StudyAnalysis) -> list[str]:
    if not analysis.reading:
        return []
    lines = ["", "reading time per arm (active seconds on a case; zooms per case)"]
    for r in analysis.reading:
        zooms = "-" if r.mean_zooms is None else f"{r.mean_zooms:.1f} ({r.n_zoomed} of {r.n} zoomed)"
        lines.append(
            f"  {r.arm:<14} {r.n:>4} readings   median {r.median_seconds:.1f} s "
            f"(IQR {r.iqr_seconds[0]:.1f}-{r.iqr_seconds[1]:.1f}), mean {r.mean_seconds:.1f} s   zooms {zooms}"
        )
    for c in analysis.reading_comparisons:
        lines.append(
            f"  {c.arm_a} vs {c.arm_b}: Mann-Whitney U {format_number(c.mann_whitney_u, 1)}, p {format_p(c.p)}"
        )
    return lines


def format_discrimination(result: Discrimination) -> list[str]:
    lines = [
        "",
        f"real or synthetic (real arm: {result.real_arm}); accuracy with exact 95% CI, binomial test against 50 %",
    ]
    if result.unbalanced:
        lines.append(
            "  (real and synthetic photos differ in number: the 'all' row rewards answering the larger side; "
            "read the balanced accuracy and d')"
        )
    for a in result.accuracy:
        lines.append(
            f"  {a.rater:<14} {a.arm:<14} {a.correct:>4} of {a.n:<4} {a.accuracy:6.1%} "
            f"(95% CI {a.ci95[0]:.1%} to {a.ci95[1]:.1%}), p {format_p(a.p_vs_chance)}"
        )
    if result.sensitivity:
        lines.append("  d' (log-linear correction) per synthetic arm against the real photos; AUC of call x confidence")
    for s in result.sensitivity:
        lines.append(
            f"  {s.rater:<14} {s.arm:<14} hits {s.hit_rate:.0%}, false alarms {s.false_alarm_rate:.0%}, "
            f"balanced accuracy {s.balanced_accuracy:.1%}, "
            f"d' {format_number(s.d_prime)}, c {format_number(s.criterion)}, AUC {format_number(s.auc)}"
        )
    return lines


def write_json(analysis: StudyAnalysis, path: Path) -> None:
    atomic_write(path, json.dumps(analysis.to_dict(), indent=1))


def write_answers_csv(study: StudyFile, path: Path) -> None:
    rows = study.all_answers(include_calibration=True)  # arm "calibration": for the record, never in the statistics
    fields = [
        "rater",
        "case_id",
        "code",
        "arm",
        "pair_key",
        "repeat_of",
        "source",
        "question",
        "score",
        "answered_at",
        "seconds_on_case",
        "zooms",
    ]
    with io.StringIO() as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
        atomic_write(path, handle.getvalue())


def write_histograms(analysis: StudyAnalysis, folder: Path) -> list[Path]:
    """One PNG per question: each arm's score counts side by side (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    for question in analysis.questions:
        summaries = [s for s in analysis.summaries if s.question == question]
        if not summaries:
            continue
        scores = np.arange(1, len(summaries[0].histogram) + 1)
        width = 0.8 / len(summaries)
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120, layout="constrained")
        for i, s in enumerate(summaries):
            ax.bar(
                scores + (i - (len(summaries) - 1) / 2) * width,
                s.histogram,
                width,
                label=f"{s.arm} (mean {format_number(s.mean)})",
            )
        ax.set_xticks(scores)
        ax.set_xlabel("score")
        ax.set_ylabel("answers")
        ax.set_title(f"{question}: scores per arm")
        # above the title, outside the axes: inside them the legend covered the tallest bars
        fig.legend(loc="outside upper center", ncols=len(summaries), frameon=False)
        path = Path(folder) / f"histogram-{question}.png"
        atomic_write(path, functools.partial(fig.savefig, format="png"))
        plt.close(fig)
        written.append(path)
    return written
