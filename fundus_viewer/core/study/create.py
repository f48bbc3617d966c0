"""Build a blinded study from folders of images, one folder per arm.

Every image is cut to the square around its field of view, resized to one size and re-encoded as PNG
with no metadata, so neither file name, format, size, EXIF nor a letterbox tells a rater which arm an
image came from (a real 768 x 512 photo letterboxed to a square would stand out among 512 px synthetic
ones). Case numbers follow a seeded shuffle.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.images import list_images, load_image
from fundus_viewer.core.study.questions import CONFIDENCE, task_questions
from fundus_viewer.core.study.store import CALIBRATION_ARM, DEFAULT_QUESTIONS, NewCase, Question, StudyError, StudyFile
from fundus_viewer.core.transform import padded_square, resize_square

FITS = ("fov", "pad")


def prepare_image(rgb: np.ndarray, size: int = 512, fit: str = "fov") -> bytes:
    """The image a rater sees: square, ``size`` px, PNG, nothing but pixels.

    ``fov``: the square around the field of view (black beyond the photo); ``pad``: the whole image,
    centred on a black square.
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}")
    square = analyse_field_of_view(rgb).square() if fit == "fov" else padded_square(*rgb.shape[:2])
    resized = resize_square(rgb, square, size, upscale=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))
    if not ok:
        raise StudyError("could not encode an image as PNG")
    return encoded.tobytes()


def case_source(loaded, path) -> str:
    """What the study records of an image's origin: its file name, or for a DICOM photo its SOP
    Instance UID only (DICOM file names often carry the patient's name)."""
    return loaded.dicom.sop_instance_uid if loaded.dicom is not None else Path(path).name


def pair_key(name: str, pattern: re.Pattern | None) -> str | None:
    """The pairing key of a file: the regex's first group (or whole match) in the file's stem."""
    if pattern is None:
        return None
    match = pattern.search(Path(name).stem)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def collect_cases(
    arms: dict[str, list[Path]],
    *,
    size: int = 512,
    fit: str = "fov",
    pair_by: str | None = None,
    repeats: int = 0,
    seed: int = 0,
    progress=None,
) -> list[NewCase]:
    try:
        pattern = re.compile(pair_by) if pair_by else None
    except re.error as exc:
        raise StudyError(f"--pair-by {pair_by!r} is not a regular expression ({exc})") from exc
    cases: list[NewCase] = []
    total = sum(len(paths) for paths in arms.values())
    for arm, paths in arms.items():
        if not paths:
            raise StudyError(f"arm {arm!r} has no images")
        for path in paths:
            loaded = load_image(path)
            cases.append(
                NewCase(
                    image=prepare_image(loaded.rgb, size, fit),
                    arm=arm,
                    source=case_source(loaded, path),
                    pair_key=pair_key(Path(path).name, pattern),
                )
            )
            if progress is not None:
                progress(len(cases), total)
    if repeats:
        if repeats > len(cases):
            raise StudyError(f"--repeat {repeats} asks for more repeated cases than there are images ({len(cases)})")
        # repeated cases are drawn across arms with the study's seed; each is shown twice
        chosen = np.random.default_rng([seed, 1]).choice(len(cases), size=repeats, replace=False)
        for index in sorted(int(i) for i in chosen):
            original = cases[index]
            cases.append(
                NewCase(
                    image=original.image,
                    arm=original.arm,
                    source=original.source,
                    pair_key=original.pair_key,
                    repeat_of=index,
                )
            )
    return cases


def parse_arms(specs: list[str]) -> dict[str, list[Path]]:
    """``NAME=FOLDER`` strings to {arm: image paths}; a clear message for each kind of mistake."""
    arms: dict[str, list[Path]] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        name = name.strip()
        if not sep or not name or not folder:
            raise StudyError(f"--arm {spec!r}: expected NAME=FOLDER")
        if name in arms:
            raise StudyError(f"--arm {name!r} is given twice")
        if not Path(folder).is_dir():
            raise StudyError(f"--arm {name}: {folder} is not a folder")
        arms[name] = list_images(folder)
        if not arms[name]:
            raise StudyError(f"--arm {name}: {folder} holds no images")
    if not arms:
        raise StudyError("a study needs at least one --arm NAME=FOLDER")
    return arms


def load_questions(path: str | Path) -> tuple[Question, ...]:
    """Questions from JSON: ``[{"key": "rl", "text": "...", "anchors": ["1 - ...", ...]}, ...]``."""
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
        questions = tuple(Question(str(i["key"]), str(i["text"]), tuple(str(a) for a in i["anchors"])) for i in items)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StudyError(f"{path}: not a question list ({exc})") from exc
    if not questions or any(len(q.anchors) < 2 for q in questions):
        raise StudyError(f"{path}: each question needs at least two anchors (scores 1..N)")
    return questions


def read_calibration(folder: str | Path, questions, size: int = 512, fit: str = "fov") -> list[NewCase]:
    """Calibration cases: FOLDER's images and FOLDER/reference.csv (``file`` and one column of reference
    scores per question key, the confidence question excepted), every image with a full row of scores in
    range. A score is its number or its anchor's wording ("synthetic")."""
    import csv

    folder = Path(folder)
    if not folder.is_dir():
        raise StudyError(f"--calibration {folder}: not a folder")
    table = folder / "reference.csv"
    questions = [q for q in questions if q.key != CONFIDENCE.key]  # how sure a rater is has no reference
    if not table.is_file():
        raise StudyError(
            f"--calibration {folder}: needs reference.csv (columns: file, {', '.join(q.key for q in questions)})"
        )
    with table.open(newline="", encoding="utf-8-sig") as stream:
        rows = {row.get("file", "").strip(): row for row in csv.DictReader(stream)}
    cases = []
    for path in list_images(folder):
        row = rows.get(path.name)
        if row is None:
            raise StudyError(f"{table}: no reference scores for {path.name}")
        try:
            reference = {q.key: _score(q, row[q.key]) for q in questions}
        except (KeyError, TypeError, ValueError):
            raise StudyError(
                f"{table}: {path.name} needs an integer score in each of the columns "
                f"{', '.join(q.key for q in questions)}"
            ) from None
        bad = [q.key for q in questions if reference[q.key] not in q.scores]
        if bad:
            raise StudyError(f"{table}: {path.name}: score out of range for {', '.join(bad)}")
        loaded = load_image(path)
        cases.append(
            NewCase(
                image=prepare_image(loaded.rgb, size, fit),
                arm=CALIBRATION_ARM,
                source=case_source(loaded, path),
                reference=reference,
            )
        )
    if not cases:
        raise StudyError(f"--calibration {folder}: holds no images")
    return cases


def _score(question, value) -> int:
    """A reference score: its number, or the wording of one of its anchors."""
    value = (value or "").strip()
    words = [a.lower() for a in question.anchors]
    return words.index(value.lower()) + 1 if value.lower() in words else int(value)


def create_study(
    out: str | Path,
    arms: dict[str, list[Path]],
    *,
    size: int = 512,
    fit: str = "fov",
    pair_by: str | None = None,
    repeats: int = 0,
    seed: int = 0,
    questions=DEFAULT_QUESTIONS,
    title: str = "",
    progress=None,
    calibration: str | Path | None = None,
    task: str = "score",
    real_arm: str = "real",
    confidence: bool = False,
) -> StudyFile:
    """``calibration``: a folder of calibration cases (``read_calibration``): shown to every rater first,
    their reference scores revealed after each answer, never in the analysis. ``task`` "real-or-synthetic":
    the rater calls each image real or synthetic and says how sure; ``real_arm`` holds the real photos,
    every other arm is synthetic. ``confidence``: a score study also asks how sure."""
    if Path(out).exists():
        raise StudyError(f"{out}: already exists; choose a new file name (a study is never overwritten)")
    if CALIBRATION_ARM in arms:
        raise StudyError(f"--arm {CALIBRATION_ARM}: the name is kept for calibration cases (--calibration FOLDER)")
    if task == "real-or-synthetic":
        if questions is not DEFAULT_QUESTIONS:
            raise StudyError(
                "--task real-or-synthetic asks its own questions (real or synthetic, and how sure); "
                "leave out --questions"
            )
        if real_arm not in arms or len(arms) < 2:
            raise StudyError(
                f"--task real-or-synthetic needs the real photos as --arm {real_arm}=FOLDER "
                "(or name their arm with --real-arm) and at least one synthetic arm"
            )
    questions = task_questions(task, questions, confidence or task == "real-or-synthetic")
    cases = collect_cases(arms, size=size, fit=fit, pair_by=pair_by, repeats=repeats, seed=seed, progress=progress)
    if calibration is not None:
        extra = read_calibration(calibration, questions, size, fit)
        shown = {c.image for c in cases}
        doubled = [c.source for c in extra if c.image in shown]
        if doubled:  # its reference would be revealed before the rater scores it as a study case
            raise StudyError(
                f"--calibration: {', '.join(doubled)} is also an image of the study; calibration images must be others"
            )
        cases += extra
    settings = {
        "size": size,
        "fit": fit,
        "pair_by": pair_by,
        "repeats": repeats,
        "arms": {a: len(p) for a, p in arms.items()},
        "calibration": sum(1 for c in cases if c.reference),
        "task": task,
        "confidence_question": CONFIDENCE.key if any(q.key == CONFIDENCE.key for q in questions) else None,
    }
    if task == "real-or-synthetic":
        settings["real_arm"] = real_arm
    return StudyFile.create(out, cases, seed=seed, questions=questions, title=title, settings=settings)
