"""The one long-lived worker that owns the classifier and the device.

It lives in its own QThread; the GUI talks to it only through queued signals. Each request carries an
increasing job id and the window ignores any result that is not the latest, so a photo opened while
another is being analysed simply wins. torch is imported here, inside the worker thread, so the first
window never waits for it.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, Signal, Slot


class AnalysisWorker(QObject):
    model_ready = Signal(str, str)  # device description, model summary
    model_failed = Signal(str)
    analyzed = Signal(int, object)  # job id, PathologyAnalysis
    failed = Signal(int, str)  # job id, message for the user

    def __init__(self, model_path: str | None = None, device: str = "auto"):
        super().__init__()
        self._model_path = model_path
        self._device = device
        self._visualizer = None
        self._latest = 0

    @Slot()
    def load_model(self) -> None:
        try:
            from fundus_viewer.core.device import describe_device, select_device
            from fundus_viewer.core.models.checkpoint import load_classifier
            from fundus_viewer.core.visualization.pathology import PathologyVisualizer

            device = select_device(self._device)
            model = load_classifier(self._model_path, device=device)
            self._visualizer = PathologyVisualizer(model, device=device)
            spec = model.spec
            self.model_ready.emit(describe_device(device), f"{spec.arch} {spec.input_size} px")
        except Exception as exc:  # any failure becomes a message; the window stays usable
            self.model_failed.emit(_message(exc))

    def note_request(self, job_id: int) -> None:
        """Called from the GUI thread when a request is queued, so stale jobs can be skipped."""
        self._latest = max(self._latest, job_id)

    @Slot(int, object)
    def analyze(self, job_id: int, image) -> None:
        if job_id < self._latest:
            return  # superseded while it waited in the queue
        if self._visualizer is None:
            self.failed.emit(job_id, "No classifier is loaded, so no heat maps can be computed.")
            return
        try:
            self.analyzed.emit(job_id, self._visualizer.analyze(image))
        except Exception as exc:
            self.failed.emit(job_id, _message(exc))


def _message(exc: Exception) -> str:
    from fundus_viewer.core.errors import FundusViewerError

    if isinstance(exc, FundusViewerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=3)}"
