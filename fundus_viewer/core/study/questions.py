"""The questions a study asks beyond the default clarity scores: how sure the rater is, and the
real-or-synthetic call. Both are ordinary questions (stored, shown, copied and merged like any other);
the study's settings say which key plays which part, so the analysis can read them."""

from __future__ import annotations

from fundus_viewer.core.study.store import DEFAULT_QUESTIONS, Question, StudyError

TASKS = ("score", "real-or-synthetic")
REAL, SYNTHETIC = 1, 2  # the call's scores

CONFIDENCE = Question(
    "confidence", "How sure are you of your answer(s) for this image?", ("guessing", "fairly sure", "certain")
)
CALL = Question("call", "Is this fundus photo real or synthetic?", ("real", "synthetic"))


def task_questions(task: str, questions=DEFAULT_QUESTIONS, confidence: bool = False) -> tuple[Question, ...]:
    """What a study of ``task`` asks: the real-or-synthetic call and how sure (always both), or the given
    score questions with the confidence question after them when asked for."""
    if task not in TASKS:
        raise StudyError(f"--task must be one of {', '.join(TASKS)}")
    if task == "real-or-synthetic":
        return (CALL, CONFIDENCE)
    if confidence:
        if CONFIDENCE.key in {q.key for q in questions}:
            raise StudyError(f"a question already has the key {CONFIDENCE.key!r}; --confidence adds its own")
        return (*questions, CONFIDENCE)
    return tuple(questions)


def synthetic_rating(call: int, confidence: int | None, levels: int = len(CONFIDENCE.anchors)) -> int:
    """The call and its confidence as one ordinal rating of how synthetic the rater thinks the photo is:
    1 = certain it is real ... 2 x levels = certain it is synthetic (the rating scale ROC and MRMC
    analyses take). A call without a confidence is the least sure of its side (levels or levels + 1), so
    it stays on the same scale."""
    if confidence is None:
        confidence = 1
    return levels + confidence if call == SYNTHETIC else levels + 1 - confidence
