"""A training run's state in words and a bar: its phase as the trainer reports it (``--progress json``,
see fundus_viewer.core.progress), the step it is at, and how it ended: finished, stopped or failed."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class RunProgress(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.phase = QLabel("Not started")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        self.detail = QLabel(wordWrap=True)  # a failure's last lines of output
        self.detail.hide()
        row = QHBoxLayout()
        row.addWidget(self.phase, 1)
        row.addWidget(self.bar, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.detail)
        self.step: int | None = None  # the last training step reported
        self.checkpoint: int | None = None  # the step of the last resumable state saved
        self._rate_from: tuple[float, int] | None = None  # (time, step) the speed is measured from

    def started(self) -> None:
        self.step = self.checkpoint = self._rate_from = None
        self.detail.hide()
        self._busy("Starting…")

    def report(self, fields: dict) -> None:
        """One progress line of the trainer's."""
        phase = str(fields.get("phase", ""))
        done, total = fields.get("done"), fields.get("total")
        if isinstance(fields.get("checkpoint"), int):
            self.checkpoint = fields["checkpoint"]
        if not isinstance(done, int) or not isinstance(total, int) or total <= 0:
            self._busy(phase[:1].upper() + phase[1:] + "…")
            return
        self.bar.setRange(0, total)
        self.bar.setValue(min(done, total))
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        if phase != "training":
            self.phase.setText(f"{phase[:1].upper() + phase[1:]} {done}/{total}")
            return
        self.step = done
        self.phase.setText(f"Training: step {done:,} / {total:,}{self._time_left(done, total)}")

    def ended(self, text: str, last_lines: Sequence[str] = (), complete: bool = False) -> None:
        self.phase.setText(text)
        if self.bar.maximum() == 0:  # a busy bar stops moving
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
        if complete:
            self.bar.setValue(self.bar.maximum())
        self.detail.setText("\n".join(last_lines))
        self.detail.setVisible(bool(last_lines))

    def stopped_text(self, checkpoint_left: bool) -> str:
        at = f" at step {self.step:,}" if self.step is not None else ""
        if self.checkpoint is not None:
            return f"Stopped{at} (Resume continues from the checkpoint of step {self.checkpoint:,})"
        if checkpoint_left:
            return f"Stopped{at} (Resume continues from the last checkpoint)"
        return f"Stopped{at}, before the first checkpoint (Start begins again)"

    def _busy(self, text: str) -> None:
        self.phase.setText(text)
        self.bar.setTextVisible(False)
        self.bar.setRange(0, 0)  # Qt's busy indicator

    def _time_left(self, done: int, total: int) -> str:
        now = time.monotonic()
        if self._rate_from is None or done < self._rate_from[1]:
            self._rate_from = (now, done)  # from the first step seen: a resumed run starts past 0
            return ""
        since, first = self._rate_from
        if done - first < 2 or now - since < 2:
            return ""
        return f", about {duration((total - done) * (now - since) / (done - first))} left"
