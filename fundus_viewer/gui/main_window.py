"""The review window: open a photo, see its RL / RNFLD heat map, move the thresholds live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThread, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox

from fundus_viewer import __version__
from fundus_viewer.gui.controls import ThresholdPanel
from fundus_viewer.gui.photo_view import PhotoView
from fundus_viewer.gui.worker import AnalysisWorker

PHOTO_FILTER = "Fundus photos (*.jpg *.jpeg *.png *.tif *.tiff *.bmp);;All files (*)"


class MainWindow(QMainWindow):
    request_analysis = Signal(int, object)
    analysis_shown = Signal(str)  # photo name, once its maps are on screen
    _threads: list = []  # every worker thread ever started, so tests can check none is left running

    def __init__(self, model_path: str | None = None, device: str = "auto"):
        super().__init__()
        self.setWindowTitle(f"Fundus Viewer {__version__}")
        self.view = PhotoView(self)
        self.setCentralWidget(self.view)
        self.panel = ThresholdPanel(self)
        dock = QDockWidget("Pathology-aware maps", self)
        dock.setObjectName("thresholds")
        dock.setWidget(self.panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.device_label = QLabel("loading model…")
        self.statusBar().addPermanentWidget(self.device_label)
        self._job = 0
        self._study_windows = []  # rating and analysis windows opened from the menu
        self.analysis = None
        self.photo = None
        self._build_menu()
        self._start_worker(model_path, device)
        self.panel.changed.connect(self.redraw)
        self._restore_layout()

    # --- set-up -------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open photo…", self, shortcut=QKeySequence.StandardKey.Open, triggered=self.choose_photo)
        open_action.setToolTip("Open a fundus photo (JPEG, PNG, TIFF, BMP)")
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close)
        file_menu.addAction(open_action)
        samples = file_menu.addMenu("Open &sample photo")
        from fundus_viewer.core.images import list_images
        from fundus_viewer.core.resources import samples_dir

        for path in list_images(samples_dir()) if samples_dir().is_dir() else []:
            action = QAction(path.name, self, triggered=lambda _checked=False, p=path: self.open_photo(p))
            action.setToolTip("Bundled CC BY sample (see resources/samples/ATTRIBUTION.md)")
            samples.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        study_menu = self.menuBar().addMenu("&Study")
        for text, shortcut, tip, slot in (
            ("&New study…", "Ctrl+Shift+N", "Set up a blinded rating study from one folder of images per arm", self.new_study),
            ("&Rate a study…", "Ctrl+Shift+R", "Open a study file and rate it, full screen, blinded", self.rate_study),
            ("&Analyse a study…", "Ctrl+Shift+A", "Statistics of a study's answers (unblinded: for the study's owner)", self.analyse_study),
        ):
            action = QAction(text, self, shortcut=QKeySequence(shortcut), triggered=slot)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            study_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("&About Fundus Viewer", self, triggered=self.show_about))

    def _start_worker(self, model_path, device) -> None:
        self.thread = QThread(self)
        self.thread.setObjectName("analysis-worker")
        MainWindow._threads.append(self.thread)
        self.worker = AnalysisWorker(model_path, device)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.load_model)
        self.request_analysis.connect(self.worker.analyze)
        self.worker.model_ready.connect(self._model_ready)
        self.worker.model_failed.connect(self._model_failed)
        self.worker.analyzed.connect(self._analyzed)
        self.worker.failed.connect(self._failed)
        self.thread.start()

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("main/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            self.restoreState(settings.value("main/state"))
        else:
            self.resize(1200, 800)

    # --- actions ------------------------------------------------------------------------------
    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open fundus photo", "", PHOTO_FILTER)
        if path:
            self.open_photo(path)

    def open_photo(self, path: str | Path) -> bool:
        from fundus_viewer.core.errors import ImageLoadError
        from fundus_viewer.core.images import load_image

        try:
            photo = load_image(path)
        except ImageLoadError as exc:
            QMessageBox.warning(self, "Cannot open photo", str(exc))
            return False
        self.photo, self.analysis = photo, None
        self.view.show_photo(photo.rgb)
        self.setWindowTitle(f"{photo.name} — Fundus Viewer")
        self._job += 1
        self.worker.note_request(self._job)
        self.request_analysis.emit(self._job, photo)
        self.statusBar().showMessage(f"Analysing {photo.name}…")
        return True

    def redraw(self) -> None:
        """Recombine the cached analysis for the current thresholds: no network pass."""
        if self.analysis is None:
            return
        theta_act, low, high = self.panel.thresholds()
        maps = self.analysis.heatmaps(theta_act, low, high, self.panel.normalization.currentData())
        pathology = self.panel.pathology.currentData()
        heat = maps[pathology]
        self.view.show_heat(heat, self.panel.colormap.currentText(), self.panel.opacity.value())
        lines = [f"{name.split('.')[-1]}: {c.active}/{c.maps} active · RL {c.rl} · RNFLD {c.rnfld}" for name, c in maps.counts.items()]
        if not heat.any():
            # The selected maps' weighted sum is nowhere positive: say so rather than show a blank.
            lines.append(f"\nNo positive {pathology.upper()} evidence at these thresholds.")
        self.panel.counts.setText("\n".join(lines))

    # --- studies ------------------------------------------------------------------------------
    def new_study(self) -> None:
        from fundus_viewer.gui.study_dialogs import CreateStudyDialog

        dialog = CreateStudyDialog(self)
        if dialog.exec() and dialog.created is not None:
            self.statusBar().showMessage(f"Created {dialog.created}", 8000)

    def _choose_study(self, caption: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, caption, "", "Fundus Viewer study (*.fvstudy);;All files (*)")
        return path or None

    def rate_study(self, path: str | None = None, rater: str | None = None):
        from fundus_viewer.core.errors import FundusViewerError
        from fundus_viewer.gui.rating_window import open_rating, show_full_screen
        from fundus_viewer.gui.study_dialogs import ask_rater_name

        path = path or self._choose_study("Study to rate")
        rater = rater or (ask_rater_name(self) if path else None)
        if not path or not rater:
            return None
        try:
            window = open_rating(path, rater)
        except FundusViewerError as exc:
            QMessageBox.critical(self, "Cannot open the study", str(exc))
            return None
        show_full_screen(window)
        self._study_windows.append(window)
        return window

    def analyse_study(self, path: str | None = None):
        from fundus_viewer.core.errors import FundusViewerError
        from fundus_viewer.gui.study_analysis import AnalysisWindow

        path = path or self._choose_study("Study to analyse")
        if not path:
            return None
        try:
            window = AnalysisWindow(path)
        except FundusViewerError as exc:
            QMessageBox.critical(self, "Cannot analyse the study", str(exc))
            return None
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.resize(1300, 820)
        window.show()
        self._study_windows.append(window)
        return window

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Fundus Viewer",
            f"<b>Fundus Viewer {__version__}</b><p>Pathology-aware heat maps for glaucoma after Wang et al., "
            "MICCAI 2019: rim loss (high CMI) and RNFL defect (low CMI).</p><p>Research software; not a medical device.</p>",
        )

    # --- worker replies -----------------------------------------------------------------------
    def _model_ready(self, device: str, summary: str) -> None:
        self.device_label.setText(f"{summary} · {device}")

    def _model_failed(self, message: str) -> None:
        self.device_label.setText("no model")
        QMessageBox.warning(self, "Classifier not loaded", message)

    def _analyzed(self, job_id: int, analysis) -> None:
        if job_id != self._job:
            return  # a newer photo was opened meanwhile
        self.analysis = analysis
        self.statusBar().showMessage(f"{analysis.image.name}: P(glaucoma) = {analysis.probability:.3f}  ({analysis.seconds * 1000:.0f} ms)")
        self.redraw()
        self.analysis_shown.emit(analysis.image.name)

    def _failed(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            self.statusBar().showMessage("Analysis failed")
            QMessageBox.warning(self, "Analysis failed", message)

    # --- shutdown -----------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        settings = QSettings()
        settings.setValue("main/geometry", self.saveGeometry())
        settings.setValue("main/state", self.saveState())
        self.thread.quit()
        self.thread.wait()
        super().closeEvent(event)
