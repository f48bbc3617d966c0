"""Reading time and zooms per arm: how long raters looked at a case, and how often they zoomed.

A reading is one rater's first showing of one case (repeats and calibration cases never count). Each
answer stores the rater's active seconds on the case and the zooms so far (``core.study.timing``), so a
reading's time and zooms are the largest over its answers: the time up to its last answer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from fundus_viewer.core.study.store import AnswerRow


@dataclass
class ReadingTime:
    arm: str
    n: int  # readings with a time
    mean_seconds: float
    median_seconds: float
    iqr_seconds: tuple[float, float]
    mean_zooms: float | None  # None where the study records no zooms
    n_zoomed: int  # readings with at least one zoom


@dataclass
class ReadingComparison:
    arm_a: str
    arm_b: str
    mann_whitney_u: float
    p: float


def readings(rows: list[AnswerRow]) -> dict[tuple[str, int], tuple[str, float | None, int | None]]:
    """(rater, case) -> (arm, seconds, zooms), the largest over the reading's answers."""
    found: dict[tuple[str, int], tuple[str, float | None, int | None]] = {}
    for r in rows:
        if r.repeat_of is not None:
            continue
        arm, seconds, zooms = found.get((r.rater, r.case_id), (r.arm, None, None))
        found[r.rater, r.case_id] = (arm, _larger(seconds, r.seconds_on_case), _larger(zooms, r.zooms))
    return found


def reading_times(rows: list[AnswerRow], arms: list[str]) -> tuple[list[ReadingTime], list[ReadingComparison]]:
    by_arm = {arm: [(s, z) for a, s, z in readings(rows).values() if a == arm and s is not None] for arm in arms}
    summaries = []
    for arm, values in by_arm.items():
        if not values:
            continue
        seconds = np.array([s for s, _ in values], dtype=float)
        zooms = [z for _, z in values if z is not None]
        q1, q3 = np.percentile(seconds, [25, 75])
        summaries.append(
            ReadingTime(
                arm,
                len(seconds),
                float(seconds.mean()),
                float(np.median(seconds)),
                (float(q1), float(q3)),
                float(np.mean(zooms)) if zooms else None,
                sum(1 for z in zooms if z > 0),
            )
        )
    comparisons = []
    present = [a for a in arms if len(by_arm[a]) >= 2]
    for i, arm_a in enumerate(present):
        for arm_b in present[i + 1 :]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                test = stats.mannwhitneyu(
                    [s for s, _ in by_arm[arm_a]], [s for s, _ in by_arm[arm_b]], alternative="two-sided"
                )
            comparisons.append(ReadingComparison(arm_a, arm_b, float(test.statistic), float(test.pvalue)))
    return summaries, comparisons


def _larger(a, b):
    return b if a is None else a if b is None else max(a, b)
