"""The review window: open photos or a folder, see the RL / RNFLD heat maps (and the baselines on
demand), move the thresholds live, draw ground-truth boxes, evaluate the folder."""

from __future__ import annotations

import gc
import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QSplitter

from fundus_viewer import __version__
from fundus_viewer.core.formats import IMAGE_SUFFIXES
from fundus_viewer.gui import dialogs
from fundus_viewer.gui import worker as replies
from fundus_viewer.gui.annotation_controller import AnnotationController
from fundus_viewer.gui.controls import ThresholdPanel
from fundus_viewer.gui.display_actions import DisplayAdjustMixin
from fundus_viewer.gui.evaluate_actions import EvaluateMixin
from fundus_viewer.gui.model_actions import ModelMixin
from fundus_viewer.gui.photo_list import PhotoList
from fundus_viewer.gui.photo_view import PhotoView
from fundus_viewer.gui.preferences_dialog import open_preferences
from fundus_viewer.gui.recent_folders import RecentFoldersMixin
from fundus_viewer.gui.report_actions import save_report
from fundus_viewer.gui.result_memory import ResultMemoryMixin
from fundus_viewer.gui.shortcuts_sheet import ShortcutsMixin
from fundus_viewer.gui.start_hint import add_start_hint
from fundus_viewer.gui.study_actions import StudyMenuMixin
from fundus_viewer.gui.view_figure import ViewFigureMixin
from fundus_viewer.gui.worker import AnalysisWorker

if TYPE_CHECKING:
    from collections.abc import Callable

PHOTO_FILTER = (
    "Fundus photos (*.jpg *.jpeg *.png *.tif *.tiff *.bmp *.dcm *.dicom);;DICOM (*.dcm *.dicom);;All files (*)"
)


class MainWindow(
    EvaluateMixin,
    ModelMixin,
    StudyMenuMixin,
    ResultMemoryMixin,
    RecentFoldersMixin,
    DisplayAdjustMixin,
    ShortcutsMixin,
    ViewFigureMixin,
    QMainWindow,
):
    request_model = Signal(str)  # a classifier checkpoint; "" for the one given at start-up
    request_open = Signal(int, str)
    request_analysis = Signal(int, object)
    request_baseline = Signal(int, object, str)
    request_evaluation = Signal(
        int, str, object, object, object, object
    )  # job, folder, boxes, methods, thresholds, metrics
    request_layers = Signal(object)
    request_synthesis = Signal(int, object, int, object)  # job, photo, seed, its analysis (or None)
    redrawn = Signal()  # the maps on screen match the panel (after every redraw)
    first_painted = Signal()  # the window is on screen and complete; the worker starts now
    analysis_shown = Signal(str)  # photo name, once its maps are on screen
    baseline_shown = Signal(str)  # method, once its map is on screen
    cup_disc_shown = Signal(float)  # the vertical cup-to-disc ratio, once the outlines are on screen

    def __init__(self, model_path: str | None = None, device: str = "auto", cup_disc_path: str | None = None):
        super().__init__()
        self.setWindowTitle(f"Fundus Viewer {__version__}")
        self.model_path = model_path
        self.view = PhotoView(self)
        self.start_hint = add_start_hint(self.view)  # how to open a photo, until one shows
        self.view2 = None  # the RNFLD map when side by side (zoom and pan linked then); made after the first frame
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view)
        self.setCentralWidget(self.splitter)
        self.panel = None  # the ThresholdPanel, made after the first frame
        self.photos = PhotoList(self)
        self.photos.photo_chosen.connect(self.open_photo)
        self.docks = {}
        for title, name, widget, area in (
            ("Pathology-aware maps", "thresholds", QLabel("  starting…"), Qt.DockWidgetArea.RightDockWidgetArea),
            ("Display", "display", QLabel(""), Qt.DockWidgetArea.RightDockWidgetArea),
            ("Photos", "photos", self.photos, Qt.DockWidgetArea.LeftDockWidgetArea),
        ):
            dock = self.docks[name] = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        self.device_label = QLabel("loading model…")
        self.statusBar().addPermanentWidget(self.device_label)
        self._job = 0  # the photo on screen (its analysis, baselines, measurement)
        self._opening = None  # (job, path) of the photo asked for and not yet decoded
        self._failed: Path | None = None  # the photo asked for last, when it could not be opened
        self._listed_unread = False  # the list shows a folder whose annotation statuses are not read yet
        self._closed = False
        self._jobs = 0  # every request's id comes from here, so ids only grow
        self._evaluation_job = None
        self._study_windows = []  # rating and analysis windows opened from the menu
        self.analysis = None
        self.cup_disc = None  # the photo's disc / cup measurement, where a segmenter is loaded
        self.photo = None
        self.baselines: dict = {}  # method -> core BaselineMap of the photo on screen
        self.evaluate_dialog = None
        self.annotations = AnnotationController(self, self.view)
        self.annotations.status_changed.connect(self._status_changed)
        # Python's cyclic garbage collector runs in whichever thread allocates: a Qt object it frees in
        # the worker thread deadlocks PySide (seen in the test suite, inside load_state_dict). Collect
        # on the GUI thread only, on a timer (pyqtgraph's collector); closeEvent gives gc back.
        from pyqtgraph.util.garbage_collector import GarbageCollector

        self._garbage = GarbageCollector(interval=1.0)
        self._build_menu()
        self._create_worker(model_path, device, cup_disc_path)
        self._painted = False
        self.view.viewport().installEventFilter(self)
        # The rest of the window (controls, second view) and the worker (torch, the model) come once the
        # first frame is painted: the window is on screen first, and loading torch holds the GIL for
        # seconds. An unshown window (a script, a test) finishes at once.
        QTimer.singleShot(0, self._finish_if_unshown)
        QTimer.singleShot(2000, self._finish_start_up)  # shown but never painted (minimised): start anyway
        self.setAcceptDrops(True)
        self._restore_layout()

    # --- set-up -------------------------------------------------------------------------------
    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: str | QKeySequence.StandardKey | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self, triggered=lambda _checked=False: slot())
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        return action

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(
            self._action(
                "&Open photo…",
                self.choose_photo,
                QKeySequence.StandardKey.Open,
                "Open a fundus photo (JPEG, PNG, TIFF, BMP); its folder fills the photo list",
            )
        )
        file_menu.addAction(
            self._action(
                "Open &folder…",
                self.choose_folder,
                "Ctrl+Shift+O",
                "Open the first photo of a folder and list them all",
            )
        )
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._fill_recent()
        samples = file_menu.addMenu("Open &sample photo")
        from fundus_viewer.core.formats import list_images
        from fundus_viewer.core.resources import samples_dir

        for path in list_images(samples_dir()) if samples_dir().is_dir() else []:
            action = self._action(
                path.name,
                lambda p=path: self.open_photo(p),
                tip="Bundled CC BY sample (see resources/samples/ATTRIBUTION.md)",
            )
            samples.addAction(action)
        file_menu.addAction(
            self._action(
                "Open &model…",
                self.choose_model,
                "Ctrl+Shift+M",  # Ctrl+M marks a photo reviewed: two actions on one key make Qt run neither
                "Load another classifier (yours, from fundus-viewer import-model); the photo is analysed again with it",
            )
        )
        file_menu.addSeparator()
        file_menu.addAction(
            self._action(
                "Export &view as PNG…",
                self.export_view,
                "Ctrl+E",
                "A figure: the photo at its own resolution with the map(s), outlines and boxes on screen, "
                "a colour bar and a caption (P, vCDR, thresholds, model)",
            )
        )
        file_menu.addAction(
            self._action(
                "Export &maps (.npy + PNG)…",
                self.export_maps,
                "Ctrl+Shift+E",
                "RL, RNFLD and any baselines computed, on the photo's own grid",
            )
        )
        file_menu.addAction(
            self._action(
                "Save &report (HTML)…",
                lambda: save_report(self),
                tip="The photo, its maps, P(glaucoma), vCDR and how they were made, in one file that can be "
                "mailed (a folder's: fundus-viewer report FOLDER)",
            )
        )
        file_menu.addSeparator()
        preferences = self._action("&Preferences…", lambda: open_preferences(self), "Ctrl+,")
        preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(preferences)
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(
            self._action(
                "&Next photo", lambda: self.step_photo(1), "PgDown", "The next photo of the folder (Page Down)"
            )
        )
        view_menu.addAction(
            self._action(
                "&Previous photo", lambda: self.step_photo(-1), "PgUp", "The previous photo of the folder (Page Up)"
            )
        )
        view_menu.addAction(
            self._action(
                "&Fit photo", self.view.fit, "Ctrl+0", "Undo zoom and pan (the mouse wheel zooms, a drag pans)"
            )
        )
        view_menu.addAction(
            self._action(
                "RL and RNFLD side &by side",
                lambda: self.panel and self.panel.side_by_side.toggle(),
                "Ctrl+B",
                "Both pathology maps at once, zoom and pan linked",
            )
        )
        self.outline_action = self._action(
            "Cup and disc &outlines",
            self.show_outlines,
            "Ctrl+D",
            "The optic disc (white) and cup (cyan) as the cup/disc segmenter finds them",
        )
        self.outline_action.setCheckable(True)
        self.outline_action.setChecked(True)
        view_menu.addAction(self.outline_action)
        self.build_display_actions(view_menu)
        view_menu.addSeparator()
        for index, (label, _key) in enumerate(ThresholdPanel.map_choices()):
            view_menu.addAction(
                self._action(
                    f"Show {label}",
                    lambda i=index: self.panel and self.panel.pathology.setCurrentIndex(i),
                    f"Ctrl+{index + 1}",
                )
            )

        annotate_menu = self.menuBar().addMenu("&Annotate")
        for action in self.annotations.menu_actions():
            annotate_menu.addSeparator() if action is None else annotate_menu.addAction(action)
        annotate_menu.addSeparator()
        annotate_menu.addAction(
            self._action(
                "E&valuate this folder (Table 1)…",
                self.evaluate_folder,
                "Ctrl+T",
                "Localisation accuracy of every map for the boxes drawn here",
            )
        )

        gan_menu = self.menuBar().addMenu("&Patho-GAN")
        gan_menu.addAction(
            self._action(
                "&Synthesize from this photo…",
                self.open_synthesize,
                "Ctrl+G",
                "The photo's vessels through the Patho-GAN and the baseline, with every map",
            )
        )
        gan_menu.addAction(
            self._action(
                "&Train a generator…",
                self.open_gan_training,
                tip="Run fundus-train gan in its own process, with live loss curves",
            )
        )
        self.build_study_menu()
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.shortcuts_action())
        self.build_model_cards_menu(help_menu)  # every bundled model's card, and the loaded classifier's
        help_menu.addAction(self._action("&About Fundus Viewer", self.show_about))

    def _create_worker(self, model_path: str | None, device: str, cup_disc_path: str | None) -> None:
        self.thread = QThread(self)
        self.thread.setObjectName("analysis-worker")
        self.worker = AnalysisWorker(model_path, device, cup_disc_path)
        self.worker.moveToThread(self.thread)
        for signal, slot in (
            (self.request_model, self.worker.load_model),
            (self.request_open, self.worker.open_photo),
            (self.request_analysis, self.worker.analyze),
            (self.request_baseline, self.worker.baseline),
            (self.request_evaluation, self.worker.evaluate),
            (self.request_layers, self.worker.set_layers),
            (self.request_synthesis, self.worker.synthesize),
        ):
            signal.connect(slot)
        self._handlers = {
            replies.MODEL: self._model_replied,
            replies.PHOTO: self._photo_opened,
            replies.ANALYSIS: self._analyzed,
            replies.CUP_DISC: self._cup_disc_measured,
            replies.LAYERS: self._layers_failed,
            replies.BASELINE: self._baseline_ready,
            replies.PROGRESS: self._evaluation_replied,
            replies.EVALUATION: self._evaluation_replied,
            replies.SYNTHESIS: self._synthesized,
        }
        self.worker.returned.connect(self._replied)
        self.worker.errored.connect(self._replied)

    def _finish_if_unshown(self) -> None:
        if not self.isVisible():
            self._finish_start_up()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            QTimer.singleShot(0, self._finish_start_up)  # after this frame reaches the screen
        return super().eventFilter(watched, event)

    def _finish_start_up(self) -> None:
        """The controls, the second view and the worker: after the first frame, once."""
        if self.panel is not None or self._closed:
            return
        self.view2 = PhotoView(self)
        self.view2.hide()
        self.splitter.addWidget(self.view2)
        self.panel = ThresholdPanel(self)
        self.docks["thresholds"].setWidget(self.panel)
        self.finish_display_controls()
        # Every change asks for one redraw when the event loop is next free: the changes of one drag
        # event (a range slider moves two values) make one redraw, and a redraw is cheap enough that
        # no longer delay is needed.
        self._redraw_timer = QTimer(self, singleShot=True, interval=0, timeout=self.redraw)
        self.panel.changed.connect(self._redraw_timer.start)
        self.panel.layers_changed.connect(self.change_layers)
        self.first_painted.emit()
        self.thread.start()
        # queued after any photo asked for meanwhile: it is decoded and shown while the model loads
        self.request_model.emit("")

    def _next_job(self) -> int:
        self._jobs += 1
        return self._jobs

    def _replied(self, reply: replies.Reply) -> None:
        self._handlers[reply.kind](reply)

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("main/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            self.restoreState(settings.value("main/state"))
        else:
            self.resize(1400, 860)
            # wide enough for a row's name, P, vCDR and flag (a user's own width is restored above)
            self.resizeDocks([self.docks["photos"]], [330], Qt.Orientation.Horizontal)

    # --- opening photos -----------------------------------------------------------------------
    def choose_photo(self) -> None:
        path = dialogs.open_file(self, "photo", "Open fundus photo", PHOTO_FILTER)
        if path:
            self.open_photo(path)

    def choose_folder(self) -> None:
        folder = dialogs.open_folder(self, "photo", "Open a folder of fundus photos")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path) -> bool:
        from fundus_viewer.core.formats import list_images

        photos = list_images(folder)
        if not photos:
            QMessageBox.warning(self, "Open folder", f"{folder} holds no photos (JPEG, PNG, TIFF or BMP).")
            return False
        return self.open_photo(photos[0])

    def open_photo(self, path: str | Path) -> bool:
        """Ask the worker to decode and prepare the photo (a 12 MP JPEG takes a few hundred ms there);
        it is shown, then analysed, when the worker replies. False if there is nothing to open."""
        path = Path(path)
        if path.is_dir():
            return self.open_folder(path)
        if not path.is_file():
            QMessageBox.warning(self, "Cannot open photo", f"{path}: no such file")
            return False
        self._opening = (self._next_job(), path)
        self.worker.note_open(self._opening[0])
        self.request_open.emit(self._opening[0], str(path))
        self.statusBar().showMessage(f"Opening {path.name}…")
        return True

    def _photo_opened(self, reply: replies.Reply) -> None:
        if self._opening is None or reply.job != self._opening[0]:
            return  # a newer photo was asked for meanwhile
        asked = self._opening[1]
        self._opening = None
        if not reply.ok:
            self.statusBar().showMessage("Could not open the photo", 6000)
            # marked in the list and stepped past; PgDown goes on from the photo that failed
            self._failed = asked
            if self.photos.folder != asked.parent or self.photos.count() == 0:
                # e.g. a folder whose first photo is unreadable: its list must still come up
                # (its annotation file is not open yet: statuses are read when one of its photos opens)
                self.photos.show_folder(asked.parent, lambda _name: "not annotated")
                self._listed_unread = True
                self._recall_results()
            self.photos.mark_unreadable(asked, reply.error.removeprefix(f"{asked}: "))
            shown_here = self.photo is not None and Path(self.photo.path).parent == asked.parent
            # the row highlighted is the photo shown, or the failed one when the shown one is not listed
            self.photos.select_name(self.photo.name if shown_here else asked.name)
            QMessageBox.warning(self, "Cannot open photo", reply.error)
            if self.photo is not None and self.analysis is None:
                self._analyze_again()  # its analysis was skipped for the photo that failed
            return
        photo = reply.value
        path = Path(photo.path)
        self._failed = None
        self.photo, self.analysis, self.baselines, self.cup_disc = photo, None, {}, None
        self.panel.result.setText("")  # the last photo's call is not this one's
        self.view.show_photo(photo.display)
        self.start_hint.hide()
        self.view2.show_photo(photo.display)
        dicom = photo.image.dicom  # laterality, date and device from a DICOM photo's tags
        self.setWindowTitle(f"{photo.name}{f' ({dicom.says()})' if dicom is not None else ''} — Fundus Viewer")
        self.annotations.open_for(path)
        if self.photos.folder != path.parent or self.photos.count() == 0 or self._listed_unread:
            self.photos.show_folder(path.parent, self.annotations.status)
            self._listed_unread = False
            self._recall_results()
        self.photos.mark_readable(path)
        self.photos.select_name(photo.name)
        self._remember(path)
        self._analyze_again()
        self.statusBar().showMessage(f"Analysing {photo.name}…")

    def _analyze_again(self) -> None:
        """A new photo job for the photo on screen: replies for anything older are ignored."""
        self._job = self._next_job()
        self.worker.note_request(self._job)
        self.request_analysis.emit(self._job, self.photo)

    def step_photo(self, step: int) -> None:
        """From the photo asked for last (PgDown twice steps twice, even before the first is decoded)."""
        asked = self._opening[1] if self._opening is not None else self._failed
        current = asked.name if asked is not None else self.photo.name if self.photo is not None else None
        if current is not None and (path := self.photos.neighbour(current, step)):
            self.open_photo(path)

    def photo_sizes(self) -> dict[str, tuple[int, int]]:
        """Width and height of the photos whose size is known (for COCO export)."""
        sizes = {}
        if self.photo is not None:
            sizes[self.photo.name] = (self.photo.width, self.photo.height)
        return sizes

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        for path in paths:
            if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
                self.open_photo(path)
                event.acceptProposedAction()
                return

    # --- drawing the maps ---------------------------------------------------------------------
    def redraw(self) -> None:
        """Recombine the cached analysis for the current thresholds: no network pass."""
        if self.analysis is None:
            return
        choice = self.panel.pathology.currentData()
        side_by_side = self.panel.side_by_side.isChecked()
        if side_by_side != self.view2.isVisibleTo(self):
            # a hidden view has no size: linked to it, the visible one would lose its range
            self.view2.setVisible(side_by_side)
            if side_by_side:
                half = self.splitter.width() // 2
                self.splitter.setSizes([half, half])
            link = self.view.plot if side_by_side else None
            self.view2.plot.setXLink(link)
            self.view2.plot.setYLink(link)
            self.view.fit()
        if side_by_side:
            choice = "rl"
        titles = dict((key, label) for label, key in self.panel.map_choices())
        self.view.set_title(titles[choice])
        self.view2.set_title(titles["rnfld"] if side_by_side else None)
        if choice in ("rl", "rnfld") and self.panel.no_layer_ticked():
            # the last map came from layers no longer chosen: show none rather than a stale one
            for view in (self.view, self.view2):
                view.show_heat(None, "inferno", 0)
            self.view.set_title(f"{titles[choice]} — no layer chosen")
            self.panel.counts.setText("No layer chosen: tick at least one layer to make the maps.")
            self.redrawn.emit()
            return
        if choice in ("rl", "rnfld"):
            maps = self._heatmaps()  # once per redraw: the slider's hot path, on the feature grid
            if side_by_side:
                self.view2.show_heat(maps.maps["rnfld"], self.panel.colormap.currentText(), self.panel.opacity.value())
            heat = maps.maps[choice]
            lines = [
                f"{name.split('.')[-1]}: {c.active}/{c.maps} active · RL {c.rl} · RNFLD {c.rnfld}"
                for name, c in maps.counts.items()
            ]
            if heat.peak <= 0:
                # The selected maps' weighted sum is nowhere positive: say so rather than show a blank.
                from fundus_viewer.core.methods import no_evidence

                lines.append(f"\n{choice.upper()}: {no_evidence(choice)}.")
                self.view.set_title(f"{titles[choice]} — {no_evidence(choice)}")
            self.panel.counts.setText("\n".join(lines))
        else:
            baseline = self.baselines.get(choice)
            if baseline is None:
                self.panel.counts.setText(f"Computing {self.panel.pathology.currentText()}…")
                self.view.show_heat(None, "inferno", 0)
                self.request_baseline.emit(self._job, self.photo, choice)
                self.redrawn.emit()
                return
            heat = baseline.map
            if heat.peak <= 0:  # e.g. a CAM that is zero everywhere: the bare photo must not look like a map
                from fundus_viewer.core.methods import TITLES, no_evidence

                self.panel.counts.setText(f"{TITLES[choice]} found {no_evidence(choice)}.")
                self.view.set_title(f"{titles[choice]} — {no_evidence(choice)}")
            else:
                self.panel.counts.setText(
                    f"{self.panel.pathology.currentText()}: thresholds do not apply to a baseline."
                )
        self.view.show_heat(heat, self.panel.colormap.currentText(), self.panel.opacity.value())
        self.redrawn.emit()

    def _cup_disc_measured(self, reply: replies.Reply) -> None:
        if reply.job not in (0, self._job):  # 0: the segmenter itself did not load
            return
        if not reply.ok:  # a measurement is an extra: say so in passing, the maps stand
            self.statusBar().showMessage(f"No cup-to-disc ratio: {reply.error.splitlines()[0]}", 8000)
            return
        if reply.job != self._job or self.analysis is None:
            return
        measurement = self.cup_disc = reply.value
        self._remember_result()
        self._show_result()
        self.show_outlines()
        self.cup_disc_shown.emit(measurement.vcdr)

    def _show_result(self) -> None:
        a, model = self.analysis, self.model_loaded.model
        call = "glaucoma" if model.calls_glaucoma(a.probability) else "normal"
        measured = self.cup_disc
        vcdr = (
            "" if measured is None else " · no disc found" if measured.disc is None else f" · vCDR {measured.vcdr:.2f}"
        )
        flagged = a.ood is not None and a.ood.flagged
        self.statusBar().showMessage(
            f"{a.image.name}: P(glaucoma) = {a.probability:.3f} → {call}{vcdr}"
            f"{' · ⚠ unlike the training photos' if flagged else ''}  ({a.seconds * 1000:.0f} ms)"
        )
        lines = [
            f"<b>P(glaucoma) {a.probability:.3f} → {call}</b>",
            f"<small>{html.escape(model.calibration.says())}</small>",
        ]
        if measured is not None and measured.disc is None:
            lines.append("No optic disc found: no cup-to-disc ratio")
        elif measured is not None:
            lines.append(f"Vertical cup-to-disc ratio {measured.vcdr:.2f}")
        if flagged:
            lines.append(
                "<span style='color:#c0392b'><b>⚠ Unlike the training photos</b> "
                f"(OOD {a.ood.score:.3f} &gt; {a.ood.threshold:.3f}): "
                "do not trust the probability or the maps.</span>"
            )
        elif a.ood is not None:
            lines.append(f"<small>Like the training photos (OOD {a.ood.score:.3f} ≤ {a.ood.threshold:.3f})</small>")
        self.panel.result.setText("<br>".join(lines))

    def show_outlines(self) -> None:
        outlines = self.cup_disc.outlines if self.cup_disc is not None and self.outline_action.isChecked() else None
        for view in (self.view, self.view2):
            view.show_outlines(outlines)

    def change_layers(self, layers: list[str]) -> None:
        """Other feature layers: the worker rebuilds its visualiser, then the photo is analysed again."""
        self.request_layers.emit(layers)
        if self.photo is not None:
            self._analyze_again()
            self.statusBar().showMessage(
                f"Analysing {self.photo.name} with {', '.join(name.split('.')[-1] for name in layers)}…"
            )

    def _heatmaps(self):
        """The cached analysis recombined at the panel's thresholds (kept while they stay the same)."""
        t = self.panel.thresholds_object()
        analysis, thresholds, maps = getattr(self, "_recombined", (None, None, None))
        if analysis is not self.analysis or thresholds != t:
            maps = self.analysis.heatmaps(t.theta_act, t.cmi_low, t.cmi_high, t.normalization)
            self._recombined = (self.analysis, t, maps)
        return maps

    def current_maps(self):
        """The photo's maps at the panel's thresholds (core ``PhotoMaps``: the pathology pair and the
        baselines computed so far), exactly as ``fundus-viewer heatmap`` would make them; None before
        the analysis."""
        if self.analysis is None:
            return None
        from fundus_viewer.core.visualization.maps import build_maps

        return build_maps(
            self.model_loaded.visualizer,
            self.photo,
            ("pathology", *self.baselines),
            self.panel.thresholds_object(),
            self.analysis,
            self.baselines,
        )

    def export_maps(self, folder: str | None = None) -> list[Path]:
        """Every map on the photo's own grid (.npy + PNG) and the sidecar that says how they were made."""
        from fundus_viewer.core.visualization.maps import write_maps

        maps = self.current_maps()
        if maps is None:
            return []
        folder = folder or dialogs.open_folder(self, "export", "Folder for the maps")
        if not folder:
            return []
        try:
            written = write_maps(maps, folder, self.panel.colormap.currentText())
        except OSError as exc:
            QMessageBox.warning(
                self,
                "Export maps",
                f"Could not write to {folder}: {exc.strerror or exc}. No file was left half-written; "
                "the maps written before this one are complete, without their sidecar.",
            )
            return []
        self.statusBar().showMessage(f"Saved {len(written)} maps and their sidecar in {folder}", 6000)
        return written

    # --- Patho-GAN ----------------------------------------------------------------------------
    def open_synthesize(self):
        from fundus_viewer.gui.synthesize_window import SynthesizeWindow

        if getattr(self, "synthesize_window", None) is None:
            self.synthesize_window = SynthesizeWindow()
            self.synthesize_window.request.connect(self.synthesize)
            self.synthesize_window.resize(1400, 900)
        self.synthesize_window.show()
        self.synthesize_window.raise_()
        return self.synthesize_window

    def synthesize(self, seed: int = 0) -> None:
        if self.photo is None:
            QMessageBox.information(
                self, "Synthesize", "Open a fundus photo first: its vessels are the generators' input."
            )
            return
        self._synthesis_job = self._next_job()  # not a photo job: the photo's analysis stays current
        self.synthesize_window.busy()
        analysis = self.analysis if self.analysis is not None and self.analysis.image is self.photo else None
        self.request_synthesis.emit(self._synthesis_job, self.photo, seed, analysis)  # the real P is this one

    def _synthesized(self, reply: replies.Reply) -> None:
        if reply.job == getattr(self, "_synthesis_job", None) and getattr(self, "synthesize_window", None) is not None:
            if reply.ok:
                self.synthesize_window.show_comparison(
                    reply.value,
                    self.panel.thresholds_object(),
                    self.panel.colormap.currentText(),
                    self.panel.opacity.value(),
                )
            else:
                self.synthesize_window.failed(reply.error)

    def open_gan_training(self):
        from fundus_viewer.gui.gan_train_panel import GanTrainPanel

        if getattr(self, "gan_panel", None) is None:
            self.gan_panel = GanTrainPanel()
            self.gan_panel.resize(900, 900)
        self.gan_panel.show()
        self.gan_panel.raise_()
        return self.gan_panel

    # --- help ---------------------------------------------------------------------------------
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Fundus Viewer",
            f"<b>Fundus Viewer {__version__}</b><p>Pathology-aware heat maps for glaucoma after Wang et al., "
            "MICCAI 2019: rim loss (high CMI) and RNFL defect (low CMI).</p><p>Loaded: "
            f"{self.device_label.text()}. Help ▸ Model cards say what it was trained on.</p>"
            "<p>Research software; not a medical device.</p>",
        )

    # --- worker replies -----------------------------------------------------------------------
    def _layers_failed(self, reply: replies.Reply) -> None:
        QMessageBox.warning(self, "Layers not changed", reply.error)

    def _analyzed(self, reply: replies.Reply) -> None:
        if reply.job != self._job:
            return  # a newer photo was opened meanwhile
        if not reply.ok:
            self.statusBar().showMessage("Analysis failed")
            QMessageBox.warning(self, "Analysis failed", reply.error)
            return
        self.analysis = analysis = reply.value
        self._remember_result()  # and shown in the list
        self._show_result()  # open_photo has cleared the outlines; a re-analysis keeps them
        self.redraw()
        self.analysis_shown.emit(analysis.image.name)

    def _baseline_ready(self, reply: replies.Reply) -> None:
        if reply.job != self._job:
            return
        if not reply.ok:
            QMessageBox.warning(self, "Baseline failed", reply.error)
            return
        method, baseline = reply.value
        self.baselines[method] = baseline
        if self.panel.pathology.currentData() == method:
            self.redraw()
        self.baseline_shown.emit(method)

    def _status_changed(self, name: str | None) -> None:
        if name is None:
            self.photos.show_folder(self.photos.folder, self.annotations.status) if self.photos.folder else None
        else:
            self.photos.set_status(name, self.annotations.status(name))

    # --- shutdown -----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        settings = QSettings()
        settings.setValue("main/geometry", self.saveGeometry())
        settings.setValue("main/state", self.saveState())
        self._cancel_evaluation()
        for window in (getattr(self, "gan_panel", None), getattr(self, "synthesize_window", None)):
            if window is not None:
                window.close()
        self.thread.quit()
        self.thread.wait()
        self.annotations.close()
        self._garbage.timer.stop()
        gc.unfreeze()
        gc.collect()  # here, on the GUI thread, with the worker stopped
        gc.enable()
        super().closeEvent(event)
