"""File > Open model… and Help > Model card, mixed into the main window: which classifier is loaded,
loading another in the worker, and what the status bar and the card say about it."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QTextBrowser, QVBoxLayout

from fundus_viewer.gui import dialogs

if TYPE_CHECKING:
    from fundus_viewer.gui.worker import Reply

MODEL_FILTER = "Fundus Viewer classifiers (*.safetensors);;All files (*)"
# Help > Model cards: every bundled model's card (resources/models/STEM.md beside STEM.safetensors)
BUNDLED_CARDS = (
    ("&Classifier (glaucoma)", "classifier"),
    ("C&up/disc segmenter", "cup-disc"),
    ("&Vessel segmenter", "vessels"),
    ("&Patho-GAN generator", "patho-gan"),
    ("GAN &baseline generator", "gan-baseline"),
)


class ModelMixin:
    model_loaded = None  # worker.LoadedModel of the classifier in use; None until one has loaded

    def choose_model(self) -> None:
        path = dialogs.open_file(self, "model", "Open classifier", MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> None:
        """Load another classifier in the worker; the photo on screen is analysed again with it. The
        model in use stays until the new one has loaded (and stays if it cannot be)."""
        self.device_label.setText(f"loading {Path(path).name}…")
        if self.panel is not None:  # a layer choice now would reach the worker after the new model
            self.panel.layers.setEnabled(False)
        self.request_model.emit(str(path))

    def _model_replied(self, reply: Reply) -> None:
        if self._closed:
            return
        self.panel.layers.setEnabled(True)
        if not reply.ok:
            if self.model_loaded is None:
                self.device_label.setText("no model")
                QMessageBox.warning(self, "Classifier not loaded", reply.error)
            else:
                self._show_model_label()
                QMessageBox.warning(
                    self, "Classifier not loaded", f"{reply.error}\n\n{self.model_loaded.name} stays loaded."
                )
            return
        switched = self.model_loaded is not None
        loaded = self.model_loaded = reply.value
        self.model_path = loaded.path
        # torch and the model will live as long as the window: out of the collector's way, so that its
        # full passes on the GUI thread take a millisecond, not 30 (the worst slider redraws were those)
        gc.freeze()
        self.panel.show_layers(loaded.layers, loaded.in_use)
        self._show_model_label()
        if switched:
            self.statusBar().showMessage(f"Loaded {loaded.name}: {loaded.summary}", 6000)
            self.photos.clear_probabilities()  # they were the old model's
        self._recall_results()  # the remembered numbers of this model, for a folder listed before it loaded
        if self.photo is None or self._opening is not None:
            return  # a photo on its way is analysed with this model when it arrives
        if switched or self.analysis is None:  # old maps, or none (no model could analyse it before)
            self.analysis, self.baselines = None, {}
            for view in (self.view, self.view2):
                view.show_heat(None, "inferno", 0)
            self.panel.counts.setText(f"Analysing {self.photo.name} with {loaded.name}…")
            self.panel.result.setText("")
            self._analyze_again()

    def _show_model_label(self) -> None:
        loaded = self.model_loaded
        self.device_label.setText(f"{loaded.name} · {loaded.summary} · {loaded.device}")
        self.device_label.setToolTip(f"{loaded.path}\nHelp ▸ Model cards say what it was trained on")

    def build_model_cards_menu(self, help_menu) -> None:
        self.model_cards_menu = help_menu.addMenu("&Model cards")
        self.model_cards_menu.setToolTipsVisible(True)
        self.model_cards_menu.aboutToShow.connect(self._fill_model_cards)  # the loaded classifier may change
        self._fill_model_cards()

    def _fill_model_cards(self) -> None:
        from fundus_viewer.core.resources import default_classifier_path, models_dir

        menu = self.model_cards_menu
        menu.clear()  # deletes the actions the menu owns: each is given to it below (not the window)
        loaded = Path(self.model_path) if self.model_path else None

        def add(action) -> None:
            action.setParent(menu)
            menu.addAction(action)

        if loaded is not None and loaded.resolve() != default_classifier_path().resolve():
            add(
                self._action(
                    f"&Loaded classifier: {loaded.name}",
                    lambda: self.show_model_card(loaded),
                    tip="What the classifier in use was trained on, its figures and weaknesses",
                )
            )
            menu.addSeparator()
        for label, stem in BUNDLED_CARDS:
            path = models_dir() / f"{stem}.safetensors"
            add(self._action(label, lambda p=path: self.show_model_card(p), tip=f"resources/models/{stem}.md"))

    def show_model_card(self, path: str | Path | None = None) -> None:
        """The card beside ``path`` (a model's checkpoint); by default the loaded classifier's."""
        from fundus_viewer.core.resources import default_classifier_path

        path = Path(path or self.model_path or default_classifier_path())
        card = path.with_suffix(".md")
        text = (
            card.read_text(encoding="utf-8")
            if card.is_file()
            else f"No model card beside {path}.\n\nLoaded: {self.device_label.text()}"
        )
        dialog = QDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per card read, gone when closed
        dialog.setWindowTitle(f"Model card — {path.name}")
        browser = QTextBrowser()
        browser.setSearchPaths([str(card.parent)])  # the card's figures (reliability diagram) beside it
        browser.setMarkdown(text)
        QVBoxLayout(dialog).addWidget(browser)
        dialog.resize(900, 700)
        dialog.show()
        self._model_card = dialog
