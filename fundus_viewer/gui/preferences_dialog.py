"""File ▸ Preferences…: the annotator's name, the colour map, the default thresholds and the compute
device. OK saves them (``gui.preferences``) and applies them to the open window; Cancel changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.gui import preferences
from fundus_viewer.gui.annotator_dialog import AnnotatorChoice

if TYPE_CHECKING:
    from fundus_viewer.gui.main_window import MainWindow


def _threshold_box(value: float, tip: str) -> QDoubleSpinBox:
    from fundus_viewer.gui.controls import DECIMALS

    box = QDoubleSpinBox(decimals=DECIMALS, minimum=0.0, maximum=1.0, singleStep=0.05, value=value)
    box.setToolTip(tip)
    return box


class PreferencesDialog(QDialog):
    def __init__(self, window: MainWindow, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.window = window
        self.setWindowTitle("Preferences")
        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)
        controller = window.annotations
        _shown, names, mine = controller.annotator_choices()
        # the name as it is: empty until one is given (never the OS login, which a rename would strand)
        self.annotator = AnnotatorChoice(controller.annotator, names, mine)
        self.annotator.name.lineEdit().setPlaceholderText("asked at your first box")
        self.annotator.others.setMaximumHeight(96)  # a few names; the list scrolls past them
        self.annotator.setToolTip("Recorded with every box you draw and every photo you mark reviewed")
        form.addRow("Annotator", self.annotator)
        self.colormap = QComboBox()
        self.colormap.addItems(preferences.COLORMAPS)
        self.colormap.setCurrentText(preferences.colormap())
        self.colormap.setToolTip("Perceptually uniform colour maps only")
        form.addRow("Colours", self.colormap)
        defaults = preferences.thresholds()
        self.theta_act = _threshold_box(defaults.theta_act, "Activation threshold (paper: 0.10)")
        self.cmi_low = _threshold_box(defaults.cmi_low, "Normalised CMI below this: RNFLD set (paper: 0.10)")
        self.cmi_high = _threshold_box(defaults.cmi_high, "Normalised CMI above this: RL set (paper: 0.90)")
        self.normalization = QComboBox()
        self.normalization.addItem("rank among active maps", "rank")
        self.normalization.addItem("fraction of the layer's largest", "max")
        self.normalization.setCurrentIndex(self.normalization.findData(defaults.normalization))
        form.addRow("θ act", self.theta_act)
        form.addRow("θ CMI low", self.cmi_low)
        form.addRow("θ CMI high", self.cmi_high)
        form.addRow("CMI scale", self.normalization)
        self.paper = QPushButton("The paper's thresholds")
        self.paper.setToolTip("θ act 0.10, θ CMI 0.10 – 0.90, CMI scaled by rank (Wang et al., MICCAI 2019)")
        self.paper.clicked.connect(self._paper)
        form.addRow(self.paper)
        self.device = QComboBox()
        self.device.addItem("auto (CUDA when present, else CPU)", "auto")
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA", "cuda")
        import torch  # loaded already by the worker

        if not torch.cuda.is_available():  # a choice that would fail at the next start
            self.device.setItemText(2, "CUDA (torch sees no GPU here)")
            self.device.model().item(2).setEnabled(False)
        self.device.setCurrentIndex(self.device.findData(preferences.device()))
        self.device.setToolTip("Where the classifier runs; fundus-viewer --device overrides it")
        form.addRow("Device", self.device)
        self.note = QLabel("New windows start with these thresholds; the device applies from the next start.")
        self.note.setWordWrap(True)
        outer.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        for box in (self.cmi_low, self.cmi_high):
            box.valueChanged.connect(self._check)
        self._check()

    def chosen_thresholds(self):
        from fundus_viewer.core.visualization.selection import Thresholds

        return Thresholds(
            self.theta_act.value(), self.cmi_low.value(), self.cmi_high.value(), self.normalization.currentData()
        )

    def _paper(self) -> None:
        from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS as paper

        self.theta_act.setValue(paper.theta_act)
        self.cmi_low.setValue(paper.cmi_low)
        self.cmi_high.setValue(paper.cmi_high)
        self.normalization.setCurrentIndex(self.normalization.findData(paper.normalization))

    def _check(self) -> None:
        ok = self.cmi_low.value() <= self.cmi_high.value()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        self.cmi_high.setStyleSheet("" if ok else "color: #c0392b")

    def accept(self) -> None:
        self.apply()
        super().accept()

    def apply(self) -> None:
        """Save the choices and show them in the open window."""
        window, thresholds = self.window, self.chosen_thresholds()
        preferences.save_thresholds(thresholds)
        QSettings().setValue(preferences.COLORMAP, self.colormap.currentText())
        QSettings().setValue(preferences.DEVICE, self.device.currentData())
        if window.panel is not None:
            window.panel.colormap.setCurrentText(self.colormap.currentText())
            window.panel.set_thresholds(thresholds)
        name, controller = self.annotator.chosen_name(), window.annotations
        if name and name != controller.annotator:  # a rename takes over the boxes ticked, as Annotator name… does
            controller.set_annotator(name, self.annotator.taken_over())


def open_preferences(window: MainWindow) -> bool:
    """File ▸ Preferences…; True when OK applied the choices."""
    dialog = PreferencesDialog(window)
    try:
        return dialog.exec() == QDialog.DialogCode.Accepted
    finally:
        dialog.deleteLater()  # else every one opened stays, hidden, a child of the window
