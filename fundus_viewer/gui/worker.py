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
    layers_known = Signal(list, list)  # every layer a user may pick, the ones in use
    analyzed = Signal(int, object)  # job id, PathologyAnalysis
    failed = Signal(int, str)  # job id, message for the user
    baseline_ready = Signal(int, str, object)  # job id, method, heat map (original grid)
    evaluation_progress = Signal(int, int, str)  # done, total, file name
    evaluation_done = Signal(object)  # Evaluation, or a message (str) when it could not run
    synthesized = Signal(int, object)  # job id, gan.compare.Comparison (or a message when it failed)
    cup_disc_measured = Signal(int, object)  # job id, cup_disc.CupDiscMeasurement

    def __init__(self, model_path: str | None = None, device: str = "auto", cup_disc_path: str | None = None):
        super().__init__()
        self._model_path = model_path
        self._cup_disc_path = cup_disc_path
        self._cup_disc = None  # the disc / cup segmenter, where one is bundled or given
        self._measured = (None, None)  # (photo, its measurement): a re-analysis (other layers) reuses it
        self._device = device
        self._visualizer = None
        self._latest = 0
        self.cancel_evaluation = False  # set from the GUI thread; read between photos
        self._gan = None  # (segmenter, {name: generator}), loaded on the first synthesis

    @Slot()
    def load_model(self) -> None:
        try:
            from fundus_viewer.core.device import describe_device, select_device
            from fundus_viewer.core.models.checkpoint import load_classifier
            from fundus_viewer.core.visualization.pathology import PathologyVisualizer

            device = select_device(self._device)
            model = load_classifier(self._model_path, device=device)
            self._visualizer = PathologyVisualizer(model, device=device)
            # Imported here, at start-up, not on the first baseline request: loading captum's and
            # pytorch-grad-cam's extensions holds the GIL long enough to freeze the window (260 ms).
            import fundus_viewer.core.evaluation  # noqa: F401
            import fundus_viewer.core.visualization.baselines  # noqa: F401
            self._load_cup_disc(device)
            spec = model.spec
            self.layers_known.emit(model.conv_layer_names(), list(self._visualizer.layers))
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
            analysis = self._visualizer.analyze(image)
            self.analyzed.emit(job_id, analysis)
        except Exception as exc:
            self.failed.emit(job_id, _message(exc))
            return
        if self._cup_disc is None:
            return
        from fundus_viewer.core.cup_disc import measure_cup_disc

        try:
            if self._measured[0] is not image:  # the window sends the same photo object again
                self._measured = (image, measure_cup_disc(self._cup_disc, analysis.image))
            self.cup_disc_measured.emit(job_id, self._measured[1])
        except Exception:  # a measurement is an extra: the maps stand without it
            traceback.print_exc()

    def _load_cup_disc(self, device) -> None:
        """The bundled (or given) cup/disc segmenter; without one the window simply shows no outlines."""
        from fundus_viewer.core.cup_disc import default_cup_disc_path, load_cup_disc_segmenter

        if self._cup_disc_path is None and not default_cup_disc_path().exists():
            return
        try:
            self._cup_disc = load_cup_disc_segmenter(self._cup_disc_path, device=device)
        except Exception as exc:
            self.failed.emit(self._latest, f"The cup/disc segmenter was not loaded: {_message(exc)}")


    @Slot(object)
    def set_layers(self, layers) -> None:
        """Visualise other layers from the next analysis on (queued before it, so it applies to it)."""
        if self._visualizer is None:
            return
        from fundus_viewer.core.visualization.pathology import PathologyVisualizer

        try:
            self._visualizer = PathologyVisualizer(self._visualizer.model, layers, device=self._visualizer.device)
        except Exception as exc:
            self.failed.emit(self._latest, _message(exc))

    @Slot(int, object, str)
    def baseline(self, job_id: int, image, method: str) -> None:
        """One baseline (CAM, GBP, SmoothGrad, Occlusion) on demand: they cost up to seconds each."""
        if job_id < self._latest or self._visualizer is None:
            return
        try:
            from fundus_viewer.core.visualization.baselines import compute_baselines

            self.baseline_ready.emit(job_id, method, compute_baselines(self._visualizer, image, (method,))[method].heat)
        except Exception as exc:
            self.failed.emit(job_id, _message(exc))

    @Slot(str, object, object, object)
    def evaluate(self, folder: str, boxes, methods, thresholds) -> None:
        """The paper's Table 1 for the drawn boxes; progress per photo, cancellable between photos."""
        self.cancel_evaluation = False
        if self._visualizer is None:
            self.evaluation_done.emit("No classifier is loaded, so nothing can be evaluated.")
            return
        try:
            from fundus_viewer.core.evaluation import evaluate_localization

            result = evaluate_localization(
                self._visualizer, folder, boxes, methods, thresholds,
                progress=lambda done, total, name: self.evaluation_progress.emit(done, total, name),
                should_stop=lambda: self.cancel_evaluation,
            )
        except Exception as exc:
            self.evaluation_done.emit(_message(exc))
            return
        self.evaluation_done.emit(result)


    @Slot(int, object, int)
    def synthesize(self, job_id: int, image, seed: int) -> None:
        """Vessels of the photo, Patho-GAN's and the baseline's photos from them, and every map."""
        if self._visualizer is None:
            self.synthesized.emit(job_id, "No classifier is loaded, so no maps can be drawn.")
            return
        try:
            from fundus_viewer.core.gan.checkpoint import load_generator
            from fundus_viewer.core.gan.compare import compare_photo
            from fundus_viewer.core.vessels import load_vessel_segmenter

            device = self._visualizer.device
            if self._gan is None:
                generators = {"Patho-GAN": load_generator(device=device, which="patho-gan"), "baseline": load_generator(device=device, which="baseline")}
                self._gan = (load_vessel_segmenter(device=device), generators)
            segmenter, generators = self._gan
            self.synthesized.emit(job_id, compare_photo(self._visualizer.model, segmenter, image.rgb, generators, seed, image.name))
        except Exception as exc:
            self.synthesized.emit(job_id, _message(exc))  # a message instead of a comparison


def _message(exc: Exception) -> str:
    from fundus_viewer.core.errors import FundusViewerError

    if isinstance(exc, FundusViewerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=3)}"
