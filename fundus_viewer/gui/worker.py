"""The one long-lived worker that owns the classifier and the device.

It lives in its own QThread; the GUI talks to it only through queued signals, and it answers with one
reply format: a ``Reply`` (job id, kind, and either a value or an error) on ``returned`` or ``errored``.
Each request carries an increasing job id; photo jobs that a newer photo has superseded are skipped,
and the window ignores any reply that is not its latest. Photos are decoded here, not on the GUI
thread, and torch is imported here, so the first window never waits for either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

if TYPE_CHECKING:
    from collections.abc import Sequence

    import torch

    from fundus_viewer.core.boxes import ImageBoxes
    from fundus_viewer.core.photo import PreparedPhoto
    from fundus_viewer.core.visualization.selection import Thresholds

log = logging.getLogger(__name__)

# reply kinds
MODEL = "model"  # value: LoadedModel; error: why it was not loaded (the previous model, if any, stays)
PHOTO = "photo"  # value: core.photo.PreparedPhoto, its display pyramid built; error: why it cannot be read
ANALYSIS = "analysis"  # value: PathologyAnalysis
CUP_DISC = "cup-disc"  # value: cup_disc.CupDiscMeasurement
LAYERS = "layers"  # error only: the layers asked for cannot be visualised
BASELINE = "baseline"  # value: (method, BaselineMap)
PROGRESS = "evaluation-progress"  # value: (done, total, file name)
EVALUATION = "evaluation"  # value: Evaluation
SYNTHESIS = "synthesis"  # value: gan.compare.SynthesisComparison


@dataclass(frozen=True)
class LoadedModel:
    path: str  # the checkpoint
    name: str  # what the status bar calls it
    summary: str  # architecture and input size
    device: str
    layers: list  # every layer a user may pick
    in_use: list  # the layers visualised
    visualizer: object = None  # what the window's exports name as the maps' source, from this reply on
    digest: str = ""  # the checkpoint's SHA-256: whose results the folder list remembers

    @property
    def model(self):
        return self.visualizer.model


@dataclass(frozen=True)
class Reply:
    job: int
    kind: str
    value: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class AnalysisWorker(QObject):
    returned = Signal(object)  # Reply with a value
    errored = Signal(object)  # Reply with an error message for the user

    def __init__(self, model_path: str | None = None, device: str = "auto", cup_disc_path: str | None = None):
        super().__init__()
        self._model_path = model_path
        self._cup_disc_path = cup_disc_path
        self._cup_disc = None  # the disc / cup segmenter, where one is bundled or given
        self._measured = (None, None)  # (photo, its measurement): a re-analysis (other layers) reuses it
        self._device = device
        self._visualizer = None
        self._latest = 0  # the newest photo job (analysis, baseline): older ones waiting are skipped
        self._latest_open = 0  # the newest photo asked for: older openings waiting are skipped
        self._cancelled: set[int] = set()  # jobs cancelled from the GUI thread; read between photos
        self._gan = None  # (segmenter, {name: generator}, cup/disc segmenter or None), loaded on the first synthesis

    def _reply(self, job: int, kind: str, value: object = None) -> None:
        self.returned.emit(Reply(job, kind, value))

    def _error(self, job: int, kind: str, exc_or_text: Exception | str) -> None:
        text = exc_or_text if isinstance(exc_or_text, str) else _message(exc_or_text)
        self.errored.emit(Reply(job, kind, error=text))

    # --- called from the GUI thread (thread-safe: they only record) ---------------------------
    def note_request(self, job_id: int) -> None:
        """A photo job (analysis, baseline) was queued: older ones still waiting are skipped."""
        self._latest = max(self._latest, job_id)

    def note_open(self, job_id: int) -> None:
        """A photo was asked for: older openings, and the old photo's waiting jobs, are skipped."""
        self._latest_open = max(self._latest_open, job_id)
        self.note_request(job_id)

    def cancel(self, job_id: int) -> None:
        """Stop job ``job_id`` at its next check (an evaluation checks between photos)."""
        self._cancelled.add(job_id)

    # --- slots, run in the worker thread ------------------------------------------------------
    @Slot(str)
    def load_model(self, path: str = "") -> None:
        """The classifier at ``path`` ("": the one given at start-up, else the bundled one). A model that
        fails to load leaves the one in use in place."""
        first = self._visualizer is None
        try:
            from pathlib import Path

            from fundus_viewer.core.device import describe_device, select_device
            from fundus_viewer.core.models.checkpoint import load_classifier
            from fundus_viewer.core.visualization.pathology import PathologyVisualizer

            device = select_device(self._device) if first else self._visualizer.device
            model = load_classifier(path or self._model_path, device=device)
            visualizer = PathologyVisualizer(model, device=device)
            # Imported here, at start-up, not on the first baseline request: loading captum's and
            # pytorch-grad-cam's extensions holds the GIL long enough to freeze the window (260 ms).
            import fundus_viewer.core.evaluation  # noqa: F401
            from fundus_viewer.core.visualization.maps import checkpoint_sha256

            spec = model.spec
            name = Path(model.checkpoint_path).name
            loaded = LoadedModel(
                model.checkpoint_path,
                name,
                f"{spec.arch}, {spec.input_size} px",
                describe_device(device),
                model.conv_layer_names(),
                list(visualizer.layers),
                visualizer,
                checkpoint_sha256(model.checkpoint_path) or "",  # "": not readable again, nothing remembered
            )
        except Exception as exc:  # any failure becomes a message; the window stays usable
            log.exception("the classifier %s was not loaded", path or self._model_path or "(bundled)")
            self._error(0, MODEL, exc)
            return
        self._visualizer, self._model_path = visualizer, model.checkpoint_path
        self._reply(0, MODEL, loaded)
        if first:
            self._load_cup_disc(device)

    @Slot(int, str)
    def open_photo(self, job_id: int, path: str) -> None:
        """Decode and prepare a photo (display pyramid included): the GUI thread only shows it."""
        if job_id < self._latest_open:
            return
        from fundus_viewer.core.errors import FundusViewerError
        from fundus_viewer.core.photo import prepare_photo

        try:
            photo = prepare_photo(path)
            photo.display  # noqa: B018 - built here, off the GUI thread
        except FundusViewerError as exc:
            self._error(job_id, PHOTO, str(exc))
            return
        except Exception as exc:
            log.exception("could not open %s", path)
            self._error(job_id, PHOTO, exc)
            return
        self._reply(job_id, PHOTO, photo)

    @Slot(int, object)
    def analyze(self, job_id: int, photo: PreparedPhoto) -> None:
        if job_id < self._latest:
            return  # superseded while it waited in the queue
        if self._visualizer is None:
            self._error(job_id, ANALYSIS, "No classifier is loaded, so no heat maps can be computed.")
            return
        try:
            analysis = self._visualizer.analyze(photo)
        except Exception as exc:
            log.exception("analysis of %s failed", getattr(photo, "name", photo))
            self._error(job_id, ANALYSIS, exc)
            return
        self._reply(job_id, ANALYSIS, analysis)
        if self._cup_disc is None:
            return
        from fundus_viewer.core.cup_disc import measure_cup_disc

        try:
            if self._measured[0] is not analysis.image:  # the window sends the same photo object again
                self._measured = (analysis.image, measure_cup_disc(self._cup_disc, analysis.image))
            self._reply(job_id, CUP_DISC, self._measured[1])
        except Exception as exc:  # a measurement is an extra: the maps stand without it
            log.exception("cup/disc measurement of %s failed", analysis.image.name)
            self._error(job_id, CUP_DISC, exc)

    def _load_cup_disc(self, device: torch.device) -> None:
        """The bundled (or given) cup/disc segmenter; without one the window simply shows no outlines."""
        from fundus_viewer.core.cup_disc import default_cup_disc_path, load_cup_disc_segmenter

        if self._cup_disc_path is None and not default_cup_disc_path().exists():
            return
        try:
            self._cup_disc = load_cup_disc_segmenter(self._cup_disc_path, device=device)
        except Exception as exc:
            log.exception("the cup/disc segmenter was not loaded")
            self._error(0, CUP_DISC, f"The cup/disc segmenter was not loaded: {_message(exc)}")

    @Slot(object)
    def set_layers(self, layers: list[str]) -> None:
        """Visualise other layers from the next analysis on (queued before it, so it applies to it)."""
        if self._visualizer is None:
            return
        from fundus_viewer.core.visualization.pathology import PathologyVisualizer

        try:
            self._visualizer = PathologyVisualizer(self._visualizer.model, layers, device=self._visualizer.device)
        except Exception as exc:
            self._error(self._latest, LAYERS, exc)

    @Slot(int, object, str)
    def baseline(self, job_id: int, photo: PreparedPhoto, method: str) -> None:
        """One baseline (CAM, GBP, SmoothGrad, Occlusion) on demand: they cost up to seconds each."""
        if job_id < self._latest or self._visualizer is None:
            return
        try:
            from fundus_viewer.core.visualization.baselines import compute_baselines

            self._reply(job_id, BASELINE, (method, compute_baselines(self._visualizer, photo, (method,))[method]))
        except Exception as exc:
            log.exception("%s failed", method)
            self._error(job_id, BASELINE, exc)

    @Slot(int, str, object, object, object, object)
    def evaluate(
        self,
        job_id: int,
        folder: str,
        boxes: dict[str, ImageBoxes],
        methods: Sequence[str],
        thresholds: Thresholds,
        metrics: Sequence[str] = ("accuracy",),
    ) -> None:
        """The paper's Table 1 for the drawn boxes; progress per photo, cancellable between photos."""
        if self._visualizer is None:
            self._error(job_id, EVALUATION, "No classifier is loaded, so nothing can be evaluated.")
            return
        try:
            from fundus_viewer.core.evaluation import evaluate_localization

            result = evaluate_localization(
                self._visualizer,
                folder,
                boxes,
                methods,
                thresholds,
                progress=lambda done, total, name: self._reply(job_id, PROGRESS, (done, total, name)),
                should_stop=lambda: job_id in self._cancelled,
                metrics=metrics,
            )
        except Exception as exc:
            log.exception("evaluation failed")
            self._error(job_id, EVALUATION, exc)
            return
        self._reply(job_id, EVALUATION, result)

    @Slot(int, object, int, object)
    def synthesize(self, job_id: int, photo: PreparedPhoto, seed: int, analysis: object = None) -> None:
        """Vessels of the photo, Patho-GAN's and the baseline's photos from them, and every map. ``analysis``:
        the window's analysis of ``photo``, the real photo's P(glaucoma) and maps (None: made here, alike)."""
        if self._visualizer is None:
            self._error(job_id, SYNTHESIS, "No classifier is loaded, so no maps can be drawn.")
            return
        try:
            from fundus_viewer.core.gan.checkpoint import load_generator
            from fundus_viewer.core.gan.compare import compare_photo
            from fundus_viewer.core.vessels import load_vessel_segmenter

            device = self._visualizer.device
            if self._gan is None:
                generators = {
                    "Patho-GAN": load_generator(device=device, which="patho-gan"),
                    "baseline": load_generator(device=device, which="baseline"),
                }
                cup_disc = None
                if any(g.spec.disc_cup for g in generators.values()):
                    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter

                    cup_disc = load_cup_disc_segmenter(device=device)
                self._gan = (load_vessel_segmenter(device=device), generators, cup_disc)
            segmenter, generators, cup_disc = self._gan
            self._reply(
                job_id,
                SYNTHESIS,
                compare_photo(self._visualizer, segmenter, photo, generators, seed, None, cup_disc, analysis),
            )
        except Exception as exc:
            log.exception("synthesis failed")
            self._error(job_id, SYNTHESIS, exc)


def _message(exc: Exception) -> str:
    """What the user reads: our own errors as they are, anything else with its type and where to look."""
    from fundus_viewer.core.errors import FundusViewerError

    if isinstance(exc, FundusViewerError):
        return str(exc)
    from fundus_viewer.gui.crash import log_path

    return f"{type(exc).__name__}: {exc}\n\nThe details are in the log: {log_path()}"
