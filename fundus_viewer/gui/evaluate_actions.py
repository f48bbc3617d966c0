"""Annotate > Evaluate this folder, mixed into the main window: the dialog, its job in the worker, and
the routing of that job's replies to the dialog while it is open (a closed dialog hears no more)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from fundus_viewer.gui import worker as replies

if TYPE_CHECKING:
    from fundus_viewer.core.boxes import ImageBoxes
    from fundus_viewer.gui.evaluate_dialog import EvaluateDialog


class EvaluateMixin:
    def evaluate_folder(self):
        from fundus_viewer.gui.evaluate_dialog import EvaluateDialog

        store = self.annotations.store
        if store is None or self.photo is None:
            QMessageBox.information(
                self, "Evaluate", "Draw RL or RNFLD boxes on this folder's photos first (Annotate menu, R or N)."
            )
            return None
        boxes = store.image_boxes()
        folder = str(Path(self.photo.path).parent)
        if self.evaluate_dialog is not None:
            self.evaluate_dialog.close()
        dialog = EvaluateDialog(folder, len(boxes), self)
        dialog.run_requested.connect(lambda methods, metrics: self._run_evaluation(folder, boxes, methods, metrics))
        dialog.cancel_requested.connect(self._cancel_evaluation)
        dialog.open_photo.connect(lambda name: self.open_photo(Path(folder) / name))
        dialog.finished.connect(lambda _result, d=dialog: self._evaluation_closed(d))
        self.evaluate_dialog = dialog
        dialog.show()
        return dialog

    def _run_evaluation(
        self,
        folder: str,
        boxes: dict[str, ImageBoxes],
        methods: tuple[str, ...],
        metrics: tuple[str, ...] = ("accuracy",),
    ) -> None:
        self._evaluation_job = self._next_job()
        self.request_evaluation.emit(
            self._evaluation_job, folder, boxes, methods, self.panel.thresholds_object(), metrics
        )

    def _cancel_evaluation(self) -> None:
        if self._evaluation_job is not None:
            self.worker.cancel(self._evaluation_job)

    def _evaluation_closed(self, dialog: EvaluateDialog) -> None:
        """A closed dialog hears no more: its job is cancelled and its replies go nowhere."""
        self._cancel_evaluation()
        if self.evaluate_dialog is dialog:
            self.evaluate_dialog, self._evaluation_job = None, None

    def _evaluation_replied(self, reply: replies.Reply) -> None:
        if reply.job != self._evaluation_job or self.evaluate_dialog is None:
            return
        if reply.kind == replies.PROGRESS:
            self.evaluate_dialog.on_progress(*reply.value)
        else:
            self.evaluate_dialog.on_done(reply.value if reply.ok else reply.error)
