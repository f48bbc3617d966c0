"""The long tables multi-reader multi-case tools read: iMRMC (R and Java), RJafroc, MRMCaov.

One row per reading: reader, case, modality (the arm), score; and, where a truth is defined, one truth
row per case (reader "truth", modality "truth", 0 or 1) as iMRMC's data frames have them. First showings
only; calibration cases never. In a score study a case is one MRMC case across modalities when the
study pairs images (``--pair-by``: the pairing key is the case) and its own case otherwise, a design that
is not fully crossed, which iMRMC analyses as such. Reader ids are the raters' names, except that a
rater called "truth" or "-1" (iMRMC's marks of a truth row) becomes "rater truth".

- A score study: ``mrmc-<question>.csv`` per question, no truth (clarity scores have none).
- A real-or-synthetic study: ``mrmc-real-or-synthetic.csv`` (every synthetic arm a modality, with the
  real photos, read once, as every modality's signal-absent cases: R iMRMC and Java iMRMC read it) and
  one ``mrmc-real-or-synthetic-ARM.imrmc`` per synthetic arm (integer ids, one modality: the Java iMRMC
  file, which RJafroc's ``DfReadDataFile(format = "iMRMC")`` reads too where every rater read every
  case). The score is the rating scale of the call and its confidence (``synthetic_rating``; higher =
  more surely synthetic), truth 1 for a synthetic photo and 0 for a real one. Pairing keys play no part:
  a real photo and one synthesised from it are two cases of opposite truth.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.study.questions import CALL, CONFIDENCE, synthetic_rating
from fundus_viewer.core.study.store import AnswerRow, StudyFile

HEADER = ("readerID", "caseID", "modalityID", "score")
TRUTH = "truth"


def reader_id(name: str) -> str:
    return f"rater {name}" if name.strip().lower() in (TRUTH, "-1") else name


def score_table(rows: list[AnswerRow], question: str) -> list[tuple[str, str, str, float]]:
    """(reader, case, modality, score) for one score question."""
    first = [r for r in rows if r.question == question and r.repeat_of is None]
    keys = [(r.rater, r.arm, r.pair_key) for r in first]
    paired = all(r.pair_key is not None for r in first) and len(set(keys)) == len(keys)  # one image per arm and key
    return [
        (reader_id(r.rater), f"pair-{r.pair_key}" if paired else f"case-{r.code}", r.arm, float(r.score)) for r in first
    ]


def real_or_synthetic_table(
    rows: list[AnswerRow], real_arm: str, arms: list[str]
) -> tuple[list[tuple[str, int, str, int]], dict[int, int]]:
    """(reader, case id, modality, rating) with the real photos under every synthetic arm, and each case's
    truth (1 synthetic, 0 real)."""
    first = [r for r in rows if r.repeat_of is None]
    calls = {(r.rater, r.case_id): r for r in first if r.question == CALL.key}
    sure = {(r.rater, r.case_id): r.score for r in first if r.question == CONFIDENCE.key}
    truth = {case: int(r.arm != real_arm) for (_, case), r in calls.items()}
    table = []
    for modality in [a for a in arms if a != real_arm]:
        for (rater, case), r in sorted(calls.items()):
            if r.arm in (real_arm, modality):
                table.append((reader_id(rater), case, modality, synthetic_rating(r.score, sure.get((rater, case)))))
    return table, truth


def write_mrmc(study: StudyFile, folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows, arms = study.all_answers(), study.arms()
    if study.task != "real-or-synthetic":
        written = []
        for question in study.questions:
            scores = score_table(rows, question.key)
            written.append(_write_csv(folder / f"mrmc-{question.key}.csv", scores, {}))
        return written
    real_arm = study.settings["real_arm"]
    table, truth = real_or_synthetic_table(rows, real_arm, arms)
    written = [
        _write_csv(
            folder / "mrmc-real-or-synthetic.csv",
            [(r, f"case-{c}", m, s) for r, c, m, s in table],
            {f"case-{c}": t for c, t in truth.items()},
        )
    ]
    for arm in dict.fromkeys(m for _, _, m, _ in table):
        rows_of_arm = [row for row in table if row[2] == arm]
        cases = {c for _, c, _, _ in rows_of_arm}
        written.append(
            _write_imrmc(
                folder / f"mrmc-real-or-synthetic-{_safe(arm)}.imrmc",
                rows_of_arm,
                {c: t for c, t in truth.items() if c in cases},
                study.path.name,
                real_arm,
            )
        )
    return written


def _write_csv(path: Path, table, truth: dict[str, int]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows((TRUTH, case, TRUTH, value) for case, value in sorted(truth.items()))
    writer.writerows(table)
    return atomic_write(path, buffer.getvalue().encode())


def _write_imrmc(path: Path, table, truth: dict[int, int], name: str, real_arm: str) -> Path:
    """The Java iMRMC input: free text, NR / N0 / N1 / NM, ``BEGIN DATA:``, then ``reader,case,modality,score``
    with integer ids (truth rows: reader -1, modality 0). Names in the free text lose their colons (the
    readers look for "N0:" and the like anywhere in a line)."""
    readers = {r: i + 1 for i, r in enumerate(sorted({r for r, *_ in table}))}
    modalities = {m: i + 1 for i, m in enumerate(dict.fromkeys(m for _, _, m, _ in table))}
    lines = [
        f"Fundus Viewer real-or-synthetic study {_safe(name)}, real photos {_safe(real_arm)} - "
        "higher scores = more surely synthetic, truth 1 = synthetic"
    ]
    lines += [f"reader {i} = {_safe(r)}" for r, i in readers.items()] + [
        f"modality {i} = {_safe(m)}" for m, i in modalities.items()
    ]
    lines += [
        f"NR: {len(readers)}",
        f"N0: {sum(1 for t in truth.values() if t == 0)}",
        f"N1: {sum(1 for t in truth.values() if t == 1)}",
        f"NM: {len(modalities)}",
        "",
        "BEGIN DATA:",
    ]
    lines += [f"-1,{case},0,{value}" for case, value in sorted(truth.items())]
    lines += [f"{readers[r]},{case},{modalities[m]},{score}" for r, case, m, score in table]
    return atomic_write(path, ("\n".join(lines) + "\n").encode())


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_. " else "-" for c in str(text))
