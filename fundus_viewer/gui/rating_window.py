"""The blinded rating screen: one image, its questions, the keyboard, nothing that tells the arm.

Keys: 1-N score the focused question (saved at once); Tab or Enter moves to the next question, and from
the last one to the next case once every question is answered; Shift+Tab / Up / Down move between
questions; Left / Right go to the previous / next case (forward only past answered cases); +/- and 0
zoom and reset the view (the mouse pans and zooms too); Esc leaves, nothing to save.

All it can read is a ``RatingSession``: case codes, re-encoded image bytes, the questions and this
rater's own answers.
"""

from __future__ import annotations

import math
import time
from contextlib import suppress
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.study.store import Question, RatingSession, StudyError, StudyUnreadableError, reading
from fundus_viewer.core.study.timing import ActiveClock

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

WHEEL_BURST_SECONDS = 0.5
PANEL_STYLE = (
    "QWidget#panel { background: #202020; color: #e8e8e8; }"
    "QLabel { color: #e8e8e8; font-size: 15px; }"
    "QLabel#code { font-size: 22px; font-weight: bold; }"
    "QFrame#question { border: 2px solid #3a3a3a; border-radius: 6px; }"
    'QFrame#question[focused="true"] { border: 2px solid #4aa3ff; }'
    "QPushButton { background: #333; color: #eee; border: 1px solid #555; padding: 4px; font-size: 14px; }"
    "QPushButton:checked { background: #4aa3ff; color: #000; }"
)
_ACTIONS = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel, QEvent.Type.MouseMove)


def help_text(questions: Sequence[Question]) -> str:
    top = max(len(q.anchors) for q in questions)
    return (
        f"1-{top} answer the highlighted question  ·  Tab / Enter next  ·  ↑ ↓ question  ·  ← → case  ·  "
        "+ − 0 zoom  ·  Esc leave (every answer is already saved)"
    )


class QuestionBox(QFrame):
    """One question: its text and a button per score, labelled with the anchor wording."""

    def __init__(self, question: Question, parent: QWidget | None = None):
        super().__init__(parent)
        self.key = question.key
        self.setObjectName("question")
        layout = QVBoxLayout(self)
        text = QLabel(question.text)
        text.setWordWrap(True)
        layout.addWidget(text)
        row = QHBoxLayout()
        self.group = QButtonGroup(self)
        for score, anchor in zip(question.scores, question.anchors, strict=True):
            button = QPushButton(f"{score}\n{anchor}")
            button.setToolTip(f"Key {score}: {anchor}")
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keyboard belongs to the window
            button.setMinimumHeight(58)
            button.setMinimumWidth(80)
            self.group.addButton(button, score)
            row.addWidget(button)
        layout.addLayout(row)

    def show_score(self, score: int | None) -> None:
        self.group.setExclusive(False)
        for button in self.group.buttons():
            button.setChecked(self.group.id(button) == score)
        self.group.setExclusive(True)

    def set_focused(self, focused: bool) -> None:
        self.setProperty("focused", focused)
        self.style().unpolish(self)
        self.style().polish(self)
        # a re-polish changes the style but paints nothing: without this the frame stayed on the old question
        self.update()


class RatingWindow(QWidget):
    answer_committed = Signal(int, str, int)  # position in the rater's order, question key, score
    completed = Signal()

    def __init__(self, session: RatingSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.questions = session.questions
        self.position = session.resume_position()
        self.showable = True  # the case's picture is on screen
        self.unshowable: dict[int, str] = {}  # positions whose image could not be shown: why
        self.focused = 0
        self.clock = ActiveClock()  # seconds on the case: the rater's active time, idle gaps and other windows excluded
        self.zooms = 0  # zoom actions (keys or wheel) on the case on screen
        self._last_wheel = -math.inf
        self.setWindowTitle(f"Fundus Viewer — rating ({session.rater})")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # the dark style is the panel's own: set on the window it cascaded into every dialog the screen
        # opens (light-grey text on a light dialog)
        self.setStyleSheet("RatingWindow { background: #202020; }")
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("#202020")
        # the keyboard belongs to the window: a focused view took the first Tab (for Qt's focus chain)
        # and the arrow keys (to scroll) when a window manager, not setFocus, gave out the focus
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.viewbox = self.view.addViewBox(lockAspect=True, invertY=True)
        self.image = pg.ImageItem()
        self.viewbox.addItem(self.image)

        panel = QWidget(objectName="panel")
        panel.setStyleSheet(PANEL_STYLE)
        panel.setFixedWidth(520)
        side = QVBoxLayout(panel)
        self.code_label = QLabel(objectName="code")
        self.position_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        side.addWidget(self.code_label)
        side.addWidget(self.position_label)
        side.addWidget(self.progress)
        self.boxes = [QuestionBox(q) for q in self.questions]
        for box in self.boxes:
            box.group.idClicked.connect(lambda score, key=box.key: self._answer_key(key, score))
            side.addWidget(box)
        self.message = QLabel()
        self.message.setWordWrap(True)
        side.addWidget(self.message)
        side.addStretch(1)
        hint = QLabel(help_text(self.questions))
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #a0a0a0; font-size: 13px;")
        side.addWidget(hint)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(panel)
        self.show_case(self.position)

    # -- what is shown --------------------------------------------------------------------------
    def _decode(self, position: int) -> np.ndarray | str:
        """The case's pixels, or why they cannot be shown."""
        try:
            bgr = cv2.imdecode(np.frombuffer(self.session.image(position), np.uint8), cv2.IMREAD_COLOR)
        except StudyUnreadableError:
            raise  # busy, not damaged: the case is tried again, never written off
        except (StudyError, cv2.error) as exc:
            return str(exc)
        return "it is not a readable image" if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def show_case(self, position: int) -> None:
        self.position = position
        self.clock.restart()
        self.zooms = 0
        # nothing is answerable, and no earlier picture stays up, until this case's picture is on screen
        self.showable = False
        self.image.clear()
        try:
            with reading(self.session.study.path):
                self._show_case(position)
        except StudyUnreadableError as exc:
            self.message.setText(f"The study file is busy or could not be read just now ({exc}). Press → to try again.")

    def _show_case(self, position: int) -> None:
        rgb = self._decode(position)
        # a case whose picture is not on screen is never answered: it is reported and skipped
        self.showable = not isinstance(rgb, str)
        if isinstance(rgb, str):
            self.unshowable[position] = rgb
        else:
            self.image.setImage(rgb, levels=(0, 255))
            self.viewbox.autoRange(padding=0)
        answers = self.session.answers(position)
        for box in self.boxes:
            box.show_score(answers.get(box.key))
        missing = [i for i, q in enumerate(self.questions) if q.key not in answers]
        self.set_focus_question(missing[0] if missing else 0)
        calibration = bool(self.session.reference(position))
        self.code_label.setText(f"Case {self.session.code(position)}" + ("  ·  calibration" if calibration else ""))
        self._update_progress()
        self.message.clear()
        if not self.showable:
            self._say_unshowable()
        elif calibration:
            self._show_reference()

    def _say_unshowable(self) -> None:
        self.message.setText(
            f"The image of case {self.session.code(self.position)} cannot be shown "
            f"({self.unshowable[self.position]}). It is skipped: no answer can be given to it. "
            "Press → for the next image, and tell the study's owner."
        )

    def _update_progress(self) -> None:
        done, total = self.session.progress()
        self.position_label.setText(f"Image {self.position + 1} of {total}")
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} of {total} complete")

    def set_focus_question(self, index: int) -> None:
        self.focused = index % len(self.questions)
        for i, box in enumerate(self.boxes):
            box.set_focused(i == self.focused)

    def case_complete(self) -> bool:
        answers = self.session.answers(self.position)
        return all(q.key in answers for q in self.questions)

    # -- actions ----------------------------------------------------------------------------------
    def answer(self, score: int) -> None:
        self._answer_key(self.questions[self.focused].key, score)

    def _answer_key(self, key: str, score: int) -> None:
        """A score key or a click on a score button: saved, or said not saved with what the file holds shown."""
        box = self.boxes[[q.key for q in self.questions].index(key)]
        try:
            with reading(self.session.study.path):
                self._answer(box, key, score)
        except StudyError as exc:
            QMessageBox.critical(self, "Answer not saved", str(exc))
            stored = None  # unknown when even that cannot be read: nothing shown as saved
            with suppress(StudyError), reading(self.session.study.path):
                stored = self.session.answers(self.position).get(key)
            box.show_score(stored)

    def _answer(self, box: QuestionBox, key: str, score: int) -> None:
        if not self.showable:
            box.show_score(self.session.answers(self.position).get(key))  # what it had before it was damaged
            if self.position in self.unshowable:
                self._say_unshowable()
            else:  # a busy read: try the case again
                self.show_case(self.position)
            return
        self.set_focus_question(self.boxes.index(box))
        self.session.answer(self.position, key, score, round(self.clock.seconds(), 1), self.zooms)
        box.show_score(score)
        self.message.clear()
        self._show_reference()
        self._update_progress()
        self.answer_committed.emit(self.position, key, score)

    def _show_reference(self) -> None:
        """On a calibration case, the reference score of each question answered so far, beside the rater's."""
        reference = self.session.reference(self.position)
        if not reference:
            return
        answers = self.session.answers(self.position)
        lines = [
            f"{q.key.upper()}: reference {reference[q.key]} ({q.anchors[reference[q.key] - 1]}), yours {answers[q.key]}"
            for q in self.questions
            if q.key in answers and q.key in reference
        ]
        intro = "Calibration case (not analysed): answer, then compare with the reference."
        self.message.setText("\n".join([intro, *lines]))

    def advance(self) -> None:
        """Tab / Enter: next question; after the last, next case (once this one is complete)."""
        if self.focused < len(self.questions) - 1:
            self.set_focus_question(self.focused + 1)
            return
        self.next_case()

    def next_case(self) -> None:
        if not self.showable and self.position not in self.unshowable:  # a busy read: try it again
            self.show_case(self.position)
            return
        if self.showable and not self.case_complete():
            missing = [i for i, q in enumerate(self.questions) if q.key not in self.session.answers(self.position)]
            self.set_focus_question(missing[0])
            self.message.setText("Answer every question of this image before moving on.")
            return
        if self.position + 1 < len(self.session.order):
            self.show_case(self.position + 1)
            return
        pending = [p for p in self.session.open_positions() if p not in self.unshowable]
        if pending:
            self.show_case(pending[0])
            return
        skipped = f" except {len(self.unshowable)} that could not be shown (tell the study's owner)" * bool(
            self.unshowable
        )
        self.message.setText(
            f"All images rated{skipped} — thank you. Press Esc to leave; ← goes back to change an answer."
        )
        self.completed.emit()

    def previous_case(self) -> None:
        if self.position > 0:
            self.show_case(self.position - 1)

    def zoom(self, factor: float) -> None:
        self.zooms += 1
        self.viewbox.scaleBy((factor, factor))

    def _wheel(self) -> None:
        """The mouse wheel zooms the picture; one turn sends many events, so a zoom is a burst of them."""
        now = time.monotonic()
        if now - self._last_wheel > WHEEL_BURST_SECONDS:
            self.zooms += 1
        self._last_wheel = now

    def reset_zoom(self) -> None:
        self.zooms += 1
        self.viewbox.autoRange(padding=0)

    # -- keyboard ---------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        QApplication.instance().installEventFilter(self)  # the rater's actions anywhere in the window
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        QApplication.instance().removeEventFilter(self)
        super().hideEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # the rater's actions in this window only (the main window or another rating window may be open)
        if (
            event.type() in _ACTIONS
            and isinstance(watched, QWidget)
            and (watched is self or self.isAncestorOf(watched))
        ):
            self.clock.touch()
            if event.type() == QEvent.Type.KeyPress and watched is not self and _is_tab(event):
                self.keyPressEvent(event)  # whatever child has the focus, Tab is the rating's
                return True
            if event.type() == QEvent.Type.Wheel and watched is self.view.viewport():
                self._wheel()
        return False

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ActivationChange:
            self.clock.resume() if self.isActiveWindow() else self.clock.pause()
        super().changeEvent(event)

    def event(self, event: QEvent) -> bool:
        # Tab would otherwise move Qt's focus between widgets
        if event.type() == QEvent.Type.KeyPress and _is_tab(event):
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        try:
            with reading(self.session.study.path):  # a page damaged since the screen opened: said, not a traceback
                self._key(event)
        except StudyError as exc:
            QMessageBox.critical(self, "The study file cannot be read", str(exc))

    # every key _key below handles, as Help ▸ Keyboard shortcuts lists it: (keys as written, what they do,
    # the Qt keys behind them; tests/test_display_gui.py presses each and checks _key takes it)
    KEYS = (
        ("1, 2, 3 …", "Score the question in focus (its anchors are numbered)", (Qt.Key.Key_1, Qt.Key.Key_2)),
        ("Tab, Enter", "Next question, then the next image", (Qt.Key.Key_Tab, Qt.Key.Key_Return, Qt.Key.Key_Enter)),
        ("Shift+Tab, ↑ / ↓", "Previous / next question", (Qt.Key.Key_Backtab, Qt.Key.Key_Up, Qt.Key.Key_Down)),
        ("→ / ←", "Next / previous image", (Qt.Key.Key_Right, Qt.Key.Key_Left)),
        ("+ / − / 0, wheel", "Zoom in / out / whole image", (Qt.Key.Key_Plus, Qt.Key.Key_Minus, Qt.Key.Key_0)),
        ("Esc", "Leave the study (answers are saved as given)", (Qt.Key.Key_Escape,)),
    )

    def _key(self, event: QKeyEvent) -> None:
        key, text = event.key(), event.text()
        scores = self.questions[self.focused].scores
        if text.isdigit() and int(text) in scores:
            self.answer(int(text))
        elif key == Qt.Key.Key_Backtab or key == Qt.Key.Key_Up:
            self.set_focus_question(self.focused - 1)
        elif key in (Qt.Key.Key_Tab, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.advance()
        elif key == Qt.Key.Key_Down:
            self.set_focus_question(self.focused + 1)
        elif key == Qt.Key.Key_Right:
            self.next_case()
        elif key == Qt.Key.Key_Left:
            self.previous_case()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(0.8)
        elif key == Qt.Key.Key_Minus:
            self.zoom(1.25)
        elif key == Qt.Key.Key_0:
            self.reset_zoom()
        elif key == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)


def _is_tab(event: QEvent) -> bool:
    return isinstance(event, QKeyEvent) and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)


def open_rating(study_path: str | Path, rater: str, parent: QWidget | None = None) -> RatingWindow:
    """A rating window on a study file; raises StudyError with a message for the user."""
    from fundus_viewer.core.study.store import StudyFile

    study = StudyFile(study_path)
    try:
        window = RatingWindow(RatingSession(study, rater), parent)
    except Exception:
        study.close()
        raise
    window.destroyed.connect(study.close)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return window


def show_full_screen(window: QWidget) -> None:
    # without a window manager (kiosk set-ups, Xvfb) full screen needs the geometry spelled out
    window.setGeometry(window.screen().geometry())
    window.showFullScreen()
    window.activateWindow()
    window.setFocus()


def show_windowed(window: QWidget) -> None:
    window.resize(1400, 900)
    window.show()


def run_rating(study_path: str | Path, rater: str, fullscreen: bool = True) -> int:
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = open_rating(study_path, rater)
    if fullscreen:
        show_full_screen(window)
    else:
        show_windowed(window)
    return app.exec()
