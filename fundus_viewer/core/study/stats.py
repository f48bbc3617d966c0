"""The statistics of a rating study, from scipy and scikit-learn.

Unit of analysis: the case. With several raters a case's score is the mean of its raters' scores, so
a case is counted once however many raters scored it (with one rater, as in the paper, it is that
rater's score). Repeated cases (shown twice to measure consistency) count with their first showing only.

- per arm and question: n, mean +- SD, median;
- per pair of arms: the two-sample Student t-test the paper used, Welch's t-test, Mann-Whitney U; the
  mean difference with Welch's 95% CI, Cohen's d with its normal-approximation 95% CI (Hedges & Olkin),
  the rank-biserial correlation;
- with a pairing key (images made from the same vessel map): the paired t-test, the Wilcoxon
  signed-rank test and Cohen's d_z with its 95% CI;
- with several raters: quadratic-weighted Cohen's kappa per pair of raters and ICC(2,1) (two-way random,
  absolute agreement, one rater; Shrout & Fleiss 1979) with ICC(3,1) beside it;
- for repeated cases: each rater's exact agreement and quadratic-weighted kappa with themselves.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from fundus_viewer.core.jsonsafe import json_safe
from fundus_viewer.core.study.discrimination import Discrimination
from fundus_viewer.core.study.reading import ReadingComparison, ReadingTime
from fundus_viewer.core.study.store import AnswerRow

Z95 = 1.959963984540054
# Fewer repeated cases than this and a rater's kappa with themselves is no reliable estimate. Simulated for a
# rater who scores 70 % of the repeats the same and the rest one point off (5-point scale, quadratic weights):
# the middle 95 % of the kappas seen spans 0.79-1.0 from 10 pairs, 0.55-1.0 from 5 and all of 0-1 from 2.
MIN_REPEATS_FOR_KAPPA = 10


@dataclass
class ArmSummary:
    arm: str
    question: str
    n: int
    n_answers: int
    mean: float
    sd: float
    median: float
    histogram: list[int]  # answers per score 1..max (every rater's)


@dataclass
class PairedResult:
    n_pairs: int
    mean_difference: float
    t: float
    p: float
    wilcoxon_w: float
    wilcoxon_p: float
    dz: float
    dz_ci95: tuple[float, float]


@dataclass
class ArmComparison:
    question: str
    arm_a: str
    arm_b: str
    n_a: int
    n_b: int
    mean_difference: float  # a - b
    difference_ci95: tuple[float, float]
    student_t: float
    student_p: float
    welch_t: float
    welch_p: float
    mann_whitney_u: float
    mann_whitney_p: float
    cohen_d: float
    cohen_d_ci95: tuple[float, float]
    rank_biserial: float
    paired: PairedResult | None = None


@dataclass
class Agreement:
    question: str
    kappa: dict[str, float]  # "rater A / rater B" -> quadratic-weighted kappa
    icc2_1: float | None
    icc3_1: float | None
    n_cases: int  # cases every rater scored (what the ICC uses)


@dataclass
class Consistency:
    rater: str
    question: str
    n: int
    exact_agreement: float
    kappa: float | None
    mean_absolute_difference: float
    caveat: str | None = None  # said beside the figures when they rest on too few repeats


@dataclass
class StudyAnalysis:
    raters: list[str]
    arms: list[str]
    questions: list[str]
    n_answers: int
    summaries: list[ArmSummary] = field(default_factory=list)
    comparisons: list[ArmComparison] = field(default_factory=list)
    agreement: list[Agreement] = field(default_factory=list)
    consistency: list[Consistency] = field(default_factory=list)
    task: str = "score"
    reading: list[ReadingTime] = field(default_factory=list)  # per arm (core.study.reading)
    reading_comparisons: list[ReadingComparison] = field(default_factory=list)
    discrimination: Discrimination | None = None  # a real-or-synthetic study (core.study.discrimination)

    def to_dict(self) -> dict:
        return json_safe(asdict(self))


def analyze_answers(
    rows: list[AnswerRow], questions: list[str], max_score: int = 5, arms: list[str] | None = None
) -> StudyAnalysis:
    raters = sorted({r.rater for r in rows})
    arms = arms or sorted({r.arm for r in rows})
    result = StudyAnalysis(raters=raters, arms=arms, questions=questions, n_answers=len(rows))
    first = [r for r in rows if r.repeat_of is None]
    for question in questions:
        case_scores: dict[int, list[int]] = {}
        case_arm: dict[int, str] = {}
        case_pair: dict[int, str | None] = {}
        for r in first:
            if r.question == question:
                case_scores.setdefault(r.case_id, []).append(r.score)
                case_arm[r.case_id], case_pair[r.case_id] = r.arm, r.pair_key
        by_arm = {arm: {c: float(np.mean(s)) for c, s in case_scores.items() if case_arm[c] == arm} for arm in arms}
        for arm in arms:
            values = np.array(list(by_arm[arm].values()))
            answers = [s for c in by_arm[arm] for s in case_scores[c]]
            result.summaries.append(summarize(arm, question, values, answers, max_score))
        for arm_a, arm_b in itertools.combinations(arms, 2):
            a, b = np.array(list(by_arm[arm_a].values())), np.array(list(by_arm[arm_b].values()))
            if len(a) < 2 or len(b) < 2:
                continue
            comparison = compare(question, arm_a, arm_b, a, b)
            pairs = paired_values(by_arm[arm_a], by_arm[arm_b], case_pair)
            if len(pairs) >= 2:
                comparison.paired = compare_paired(*map(np.array, zip(*pairs, strict=True)))
            result.comparisons.append(comparison)
        if len(raters) >= 2:
            result.agreement.append(agreement(first, question, raters, max_score))
        for rater in raters:
            c = consistency([r for r in rows if r.rater == rater], rater, question, max_score)
            if c is not None:
                result.consistency.append(c)
    return result


def summarize(arm: str, question: str, values: np.ndarray, answers: list[int], max_score: int) -> ArmSummary:
    """``values``: one (mean) score per case; ``answers``: every answer, which the histogram counts."""
    n = len(values)
    histogram = (
        np.bincount(np.clip(answers, 1, max_score), minlength=max_score + 1)[1:]
        if answers
        else np.zeros(max_score, int)
    )
    n_answers = len(answers)
    return ArmSummary(
        arm=arm,
        question=question,
        n=n,
        n_answers=n_answers,
        mean=float(np.mean(values)) if n else math.nan,
        sd=float(np.std(values, ddof=1)) if n > 1 else math.nan,
        median=float(np.median(values)) if n else math.nan,
        histogram=[int(h) for h in histogram],
    )


def compare(question: str, arm_a: str, arm_b: str, a: np.ndarray, b: np.ndarray) -> ArmComparison:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical scores: scipy warns, then returns NaN
        return _compare(question, arm_a, arm_b, a, b)


def _compare(question: str, arm_a: str, arm_b: str, a: np.ndarray, b: np.ndarray) -> ArmComparison:
    student = stats.ttest_ind(a, b, equal_var=True)
    welch = stats.ttest_ind(a, b, equal_var=False)
    interval = welch.confidence_interval(0.95)
    mwu = stats.mannwhitneyu(a, b, alternative="two-sided")
    d, d_ci = cohen_d(a, b)
    return ArmComparison(
        question=question,
        arm_a=arm_a,
        arm_b=arm_b,
        n_a=len(a),
        n_b=len(b),
        mean_difference=float(np.mean(a) - np.mean(b)),
        difference_ci95=(float(interval.low), float(interval.high)),
        student_t=float(student.statistic),
        student_p=float(student.pvalue),
        welch_t=float(welch.statistic),
        welch_p=float(welch.pvalue),
        mann_whitney_u=float(mwu.statistic),
        mann_whitney_p=float(mwu.pvalue),
        cohen_d=d,
        cohen_d_ci95=d_ci,
        # 2U/(n_a n_b) - 1: +1 when every a outscores every b
        rank_biserial=float(2 * mwu.statistic / (len(a) * len(b)) - 1),
    )


def cohen_d(a: np.ndarray, b: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Cohen's d with the pooled SD, and its normal-approximation 95% CI (Hedges & Olkin 1985)."""
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return math.nan, (math.nan, math.nan)
    d = float((np.mean(a) - np.mean(b)) / pooled)
    se = math.sqrt((na + nb) / (na * nb) + d * d / (2 * (na + nb)))
    return d, (d - Z95 * se, d + Z95 * se)


def paired_values(
    a: dict[int, float], b: dict[int, float], case_pair: dict[int, str | None]
) -> list[tuple[float, float]]:
    """(a, b) per pairing key present in both arms; several cases of one arm under one key are averaged."""

    def by_key(scores: dict[int, float]) -> dict[str, float]:
        grouped: dict[str, list[float]] = {}
        for case, score in scores.items():
            key = case_pair.get(case)
            if key is not None:
                grouped.setdefault(key, []).append(score)
        return {k: float(np.mean(v)) for k, v in grouped.items()}

    ka, kb = by_key(a), by_key(b)
    return [(ka[k], kb[k]) for k in sorted(set(ka) & set(kb))]


def compare_paired(a: np.ndarray, b: np.ndarray) -> PairedResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _compare_paired(a, b)


def _compare_paired(a: np.ndarray, b: np.ndarray) -> PairedResult:
    diff = a - b
    n = len(diff)
    t = stats.ttest_rel(a, b)
    if np.all(diff == 0):
        w, wp = math.nan, 1.0  # no difference at all: the signed-rank test has nothing to rank
    else:
        wilcoxon = stats.wilcoxon(a, b)
        w, wp = float(wilcoxon.statistic), float(wilcoxon.pvalue)
    sd = np.std(diff, ddof=1)
    dz = float(np.mean(diff) / sd) if sd > 0 else math.nan
    se = math.sqrt(1 / n + dz * dz / (2 * n)) if not math.isnan(dz) else math.nan
    return PairedResult(
        n, float(np.mean(diff)), float(t.statistic), float(t.pvalue), w, wp, dz, (dz - Z95 * se, dz + Z95 * se)
    )


def icc(matrix: np.ndarray) -> tuple[float, float]:
    """ICC(2,1) and ICC(3,1) of an n cases x k raters matrix (Shrout & Fleiss 1979, two-way ANOVA)."""
    n, k = matrix.shape
    grand = matrix.mean()
    ss_rows = k * ((matrix.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((matrix.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((matrix - grand) ** 2).sum() - ss_rows - ss_cols
    ms_rows, ms_cols = ss_rows / (n - 1), ss_cols / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    with np.errstate(invalid="ignore", divide="ignore"):  # every score equal: undefined, NaN (shown as "-")
        icc2 = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
        icc3 = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)
    return float(icc2), float(icc3)


def agreement(rows: list[AnswerRow], question: str, raters: list[str], max_score: int) -> Agreement:
    scores = {(r.rater, r.case_id): r.score for r in rows if r.question == question}
    labels = list(range(1, max_score + 1))
    kappas = {}
    for ra, rb in itertools.combinations(raters, 2):
        common = sorted(c for (r, c) in scores if r == ra and (rb, c) in scores)
        if len(common) >= 2:
            kappas[f"{ra} / {rb}"] = _kappa([scores[ra, c] for c in common], [scores[rb, c] for c in common], labels)
    cases = sorted({c for (_, c) in scores})
    complete = [c for c in cases if all((r, c) in scores for r in raters)]
    icc2 = icc3 = None
    if len(complete) >= 2:
        icc2, icc3 = icc(np.array([[scores[r, c] for r in raters] for c in complete], dtype=float))
    return Agreement(question, kappas, icc2, icc3, len(complete))


def consistency(rows: list[AnswerRow], rater: str, question: str, max_score: int) -> Consistency | None:
    """A rater against themselves on the cases shown twice."""
    scores = {r.case_id: r.score for r in rows if r.question == question}
    pairs = [
        (scores[r.repeat_of], r.score)
        for r in rows
        if r.question == question and r.repeat_of is not None and r.repeat_of in scores
    ]
    if not pairs:
        return None
    first, second = (np.array(x) for x in zip(*pairs, strict=True))
    kappa = _kappa(list(first), list(second), list(range(1, max_score + 1))) if len(pairs) >= 2 else None
    caveat = None
    if len(pairs) < MIN_REPEATS_FOR_KAPPA:
        caveat = (
            f"kappa from only {len(pairs)} repeated case{'s' if len(pairs) > 1 else ''}: "
            f"not a reliable estimate ({MIN_REPEATS_FOR_KAPPA} or more needed)"
        )
    return Consistency(
        rater,
        question,
        len(pairs),
        float(np.mean(first == second)),
        kappa,
        float(np.mean(np.abs(first - second))),
        caveat,
    )


def _kappa(a, b, labels) -> float:
    if len(set(a)) == 1 and len(set(b)) == 1:
        return 1.0 if a[0] == b[0] else 0.0  # kappa is undefined with no variation; report the agreement
    return float(cohen_kappa_score(a, b, labels=labels, weights="quadratic"))
