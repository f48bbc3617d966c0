"""The Study menu's actions, mixed into the main window: new study, rate (full screen), analyse."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from fundus_viewer.gui import dialogs


class StudyMenuMixin:
    def build_study_menu(self) -> None:
        study_menu = self.menuBar().addMenu("&Study")
        study_menu.addAction(
            self._action(
                "&New study…",
                self.new_study,
                "Ctrl+Shift+N",
                "Set up a blinded rating study from one folder of images per arm",
            )
        )
        study_menu.addAction(
            self._action(
                "&Rate a study…", self.rate_study, "Ctrl+Shift+R", "Open a study file and rate it, full screen, blinded"
            )
        )
        study_menu.addAction(
            self._action(
                "&Analyse a study…",
                self.analyse_study,
                "Ctrl+Shift+A",
                "Statistics of a study's answers (unblinded: for the study's owner)",
            )
        )

    def new_study(self) -> None:
        from fundus_viewer.gui.study_dialogs import CreateStudyDialog

        dialog = CreateStudyDialog(self)
        if dialog.exec() and dialog.created is not None:
            self.statusBar().showMessage(f"Created {dialog.created}", 8000)

    def _choose_study(self, caption: str) -> str | None:
        path = dialogs.open_file(self, "study", caption, "Fundus Viewer study (*.fvstudy);;All files (*)")
        return path or None

    def rate_study(self, path: str | None = None, rater: str | None = None):
        from fundus_viewer.core.errors import FundusViewerError
        from fundus_viewer.core.study.rater_copy import copy_rater
        from fundus_viewer.core.study.store import reading
        from fundus_viewer.gui import study_dialogs
        from fundus_viewer.gui.rating_window import open_rating, show_full_screen

        path = path or self._choose_study("Study to rate")
        if not path:
            return None
        try:
            with reading(path):  # a damaged file: one dialog naming it, never a traceback
                own = copy_rater(path)  # a rater copy knows its rater
                if not (rater or own):
                    rater = study_dialogs.ask_rater_name(self)
                    if not rater or not study_dialogs.confirm_rater(self, path, rater):
                        return None
                rater = rater or own
                if not rater:
                    return None
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
