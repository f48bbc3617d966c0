"""How the photo is shown: brightness, contrast, gamma and the red-free (green channel) view.

The values make a core ``DisplaySettings``; the views apply it to the pixels they draw, nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLineEdit, QPushButton, QWidget

from fundus_viewer.gui.controls import EDITABLE_STYLE, snap

DISPLAY_ONLY = (
    "Changes only how the photo is shown, in both views: the classifier's input and P(glaucoma), "
    "the heat maps and the exported maps are made from the photo itself"
)
# (label, attribute, low, high, tip)
SLIDERS = (
    ("Brightness", "brightness", -0.5, 0.5, "Added to every pixel, as a fraction of full scale (0: none)"),
    ("Contrast", "contrast", 0.25, 3.0, "Stretches the tones about mid-grey (1: none)"),
    ("Gamma", "gamma", 0.3, 3.0, "Above 1 lifts the dark mid-tones, below 1 deepens them (1: none)"),
)


class DisplayControls(QWidget):
    changed = Signal(object)  # core DisplaySettings

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from superqt import QLabeledDoubleSlider

        from fundus_viewer.core.display_adjust import DisplaySettings

        self._defaults = DisplaySettings()
        layout = QFormLayout(self)
        self.sliders = {}
        for label, name, low, high, tip in SLIDERS:
            slider = self.sliders[name] = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setRange(low, high)
            slider.setDecimals(2)
            slider.setValue(getattr(self._defaults, name))
            slider.setToolTip(f"{tip}. {DISPLAY_ONLY}.")
            for box in slider.findChildren(QLineEdit):
                box.setStyleSheet(EDITABLE_STYLE)
            slider.valueChanged.connect(lambda _v, slider=slider: snap(slider))
            slider.valueChanged.connect(self._changed)
            layout.addRow(label, slider)
        self.red_free = QCheckBox("Red-free (green channel)")
        self.red_free.setToolTip(
            "The green channel as grey, the clinical red-free view: nerve-fibre layer defects show as dark "
            f"wedges (Ctrl+R). {DISPLAY_ONLY}."
        )
        self.clahe = QCheckBox("Enhance contrast (CLAHE)")
        self.clahe.setToolTip(f"Contrast-limited adaptive histogram equalisation of the red-free view. {DISPLAY_ONLY}.")
        self.clahe.setEnabled(False)
        self.red_free.toggled.connect(self.clahe.setEnabled)
        for box in (self.red_free, self.clahe):
            box.toggled.connect(self._changed)
            layout.addRow(box)
        self.reset = QPushButton("Reset display")
        self.reset.setToolTip("The photo as it is: no brightness, contrast or gamma change, in colour")
        self.reset.clicked.connect(self.reset_display)
        layout.addRow(self.reset)

    def settings(self):
        from fundus_viewer.core.display_adjust import DisplaySettings

        values = {name: round(float(slider.value()), 2) for name, slider in self.sliders.items()}
        return DisplaySettings(**values, red_free=self.red_free.isChecked(), clahe=self.clahe.isChecked())

    def reset_display(self) -> None:
        for name, slider in self.sliders.items():
            slider.setValue(getattr(self._defaults, name))
        self.red_free.setChecked(False)
        self.clahe.setChecked(False)

    def _changed(self, *_args) -> None:
        self.changed.emit(self.settings())
