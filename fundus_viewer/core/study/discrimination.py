"""Can the raters tell synthetic photos from real ones? The analysis of a real-or-synthetic study.

Per rater, on every case shown for the first time (repeats and calibration cases never count):
- accuracy (real called real, synthetic called synthetic) with its exact (Clopper-Pearson) 95% CI and the
  two-sided exact binomial test against 50 %, over all cases and per arm (on the real arm: the share
  called real; on a synthetic arm: the share called synthetic);
- per synthetic arm against the real arm, d' = z(H) - z(F) and the criterion c = -(z(H) + z(F)) / 2, with
  H the share of that arm called synthetic and F the share of real photos called synthetic, each
  corrected log-linearly ((k + 0.5) / (n + 1), Hautus 1995) so that 0 % and 100 % stay finite;
- with the confidence question, the AUC of the rating scale (call x confidence, ``synthetic_rating``);
- the balanced accuracy (H + 1 - F) / 2 per synthetic arm.
A rater at chance has d' 0, AUC 0.5 and balanced accuracy 0.5: the synthetic photos pass. The overall
accuracy is at 50 % only when there are as many real photos as synthetic ones: a rater who calls every
photo synthetic scores k / (k + 1) with k synthetic arms the size of the real one (``unbalanced``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats
from sklearn.metrics import roc_auc_score

from fundus_viewer.core.study.questions import CALL, CONFIDENCE, SYNTHETIC, synthetic_rating
from fundus_viewer.core.study.store import AnswerRow

ALL_ARMS = "all"


@dataclass
class Accuracy:
    rater: str
    arm: str  # ALL_ARMS: every case
    n: int
    correct: int
    accuracy: float
    ci95: tuple[float, float]
    p_vs_chance: float


@dataclass
class Sensitivity:
    rater: str
    arm: str  # a synthetic arm, against the real arm
    hit_rate: float  # the arm's photos called synthetic
    false_alarm_rate: float  # real photos called synthetic
    balanced_accuracy: float  # (H + 1 - F) / 2: what response bias cannot raise when the arms differ in size
    d_prime: float
    criterion: float
    auc: float | None  # of the rating scale; None without the confidence question


@dataclass
class Discrimination:
    real_arm: str
    accuracy: list[Accuracy]
    sensitivity: list[Sensitivity]
    unbalanced: bool = False  # real and synthetic photos differ in number: read d' and balanced accuracy


def accuracy(rater: str, arm: str, correct: int, n: int) -> Accuracy:
    test = stats.binomtest(correct, n, 0.5)
    interval = test.proportion_ci(0.95, method="exact")
    return Accuracy(
        rater, arm, n, correct, correct / n, (float(interval.low), float(interval.high)), float(test.pvalue)
    )


def corrected_rate(k: int, n: int) -> float:
    return (k + 0.5) / (n + 1)


def d_prime(hits: int, n_signal: int, false_alarms: int, n_noise: int) -> tuple[float, float]:
    """(d', c) with the log-linear correction."""
    z_hit = stats.norm.ppf(corrected_rate(hits, n_signal))
    z_false = stats.norm.ppf(corrected_rate(false_alarms, n_noise))
    return float(z_hit - z_false), float(-(z_hit + z_false) / 2)


def analyze_discrimination(
    rows: list[AnswerRow], real_arm: str, arms: list[str], confidence_levels: int = len(CONFIDENCE.anchors)
) -> Discrimination:
    first = [r for r in rows if r.repeat_of is None]
    result = Discrimination(real_arm, [], [])
    for rater in sorted({r.rater for r in first}):
        calls = {r.case_id: r.score for r in first if r.rater == rater and r.question == CALL.key}
        sure = {r.case_id: r.score for r in first if r.rater == rater and r.question == CONFIDENCE.key}
        arm_of = {r.case_id: r.arm for r in first if r.rater == rater}
        said_synthetic = {case: call == SYNTHETIC for case, call in calls.items()}
        correct = {case: said_synthetic[case] == (arm_of[case] != real_arm) for case in calls}
        if calls:
            result.accuracy.append(accuracy(rater, ALL_ARMS, sum(correct.values()), len(correct)))
            n_real = sum(1 for case in calls if arm_of[case] == real_arm)
            result.unbalanced |= n_real != len(calls) - n_real
        for arm in arms:
            cases = [c for c in calls if arm_of[c] == arm]
            if cases:
                result.accuracy.append(accuracy(rater, arm, sum(correct[c] for c in cases), len(cases)))
        real = [c for c in calls if arm_of[c] == real_arm]
        for arm in arms:
            synthetic = [c for c in calls if arm_of[c] == arm]
            if arm == real_arm or not real or not synthetic:
                continue  # d' needs photos of both kinds
            hits, false_alarms = sum(said_synthetic[c] for c in synthetic), sum(said_synthetic[c] for c in real)
            d, c = d_prime(hits, len(synthetic), false_alarms, len(real))
            auc = None
            if any(case in sure for case in real + synthetic):  # without any confidence the scale is the call alone
                ratings = [
                    synthetic_rating(calls[case], sure.get(case), confidence_levels) for case in real + synthetic
                ]
                auc = float(roc_auc_score([0] * len(real) + [1] * len(synthetic), ratings))
            hit_rate, false_alarm_rate = hits / len(synthetic), false_alarms / len(real)
            result.sensitivity.append(
                Sensitivity(rater, arm, hit_rate, false_alarm_rate, (hit_rate + 1 - false_alarm_rate) / 2, d, c, auc)
            )
    return result
