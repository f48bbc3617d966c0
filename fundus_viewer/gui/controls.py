"""The threshold and display controls beside the photo."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.drawing_colours import HEAT_COLORMAPS
from fundus_viewer.gui import preferences


class ThresholdPanel(QWidget):
    """theta_act, the theta_CMI low/high pair, which map to show, opacity and colour map."""

    changed = Signal()
    layers_changed = Signal(list)  # the layers ticked (a new network pass)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # superqt imports all its widgets at once (~100 ms): here, when the panel is built after the
        # window's first frame, not when the window's modules load
        from superqt import QLabeledDoubleRangeSlider, QLabeledDoubleSlider

        outer = QVBoxLayout(self)
        # the photo's result: probability, the model's call and what it means, the cup-to-disc ratio,
        # and a warning when the photo is unlike the training photos; always in view, never cut off
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.result)
        layout = QFormLayout()
        outer.addLayout(layout)
        outer.addStretch(1)  # controls stay together at the top of a tall dock
        self.pathology = QComboBox()
        for label, key in self.map_choices():
            self.pathology.addItem(label, key)
        self.pathology.setToolTip(
            "Which heat map is drawn over the photo: the paper's two, or a baseline (computed on demand)"
        )
        self.theta_act = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.theta_act.setRange(0.0, 1.0)
        self.theta_act.setDecimals(2)
        self.theta_act.setValue(0.1)
        self.theta_act.setToolTip(
            "Keep feature maps whose L1 norm exceeds this fraction of the layer's largest (paper: 0.1)"
        )
        self.cmi = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.cmi.setRange(0.0, 1.0)
        self.cmi.setDecimals(2)
        self.cmi.setValue((0.1, 0.9))
        self.cmi.setToolTip(
            "Normalised CMI below the low handle: RNFLD set; above the high handle: RL set (paper: 0.1, 0.9)"
        )
        self.normalization = QComboBox()
        self.normalization.addItem("rank among active maps", "rank")
        self.normalization.addItem("fraction of the layer's largest", "max")
        self.normalization.setToolTip(
            "How each map's CMI is scaled to [0, 1] within its layer before the θ CMI thresholds apply"
        )
        self.opacity = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0.0, 1.0)
        self.opacity.setDecimals(2)
        self.opacity.setValue(0.6)
        self.opacity.setToolTip("Opacity of the heat map over the photo")
        self.colormap = QComboBox()
        self.colormap.addItems(list(HEAT_COLORMAPS))
        self.colormap.setToolTip("Perceptually uniform colour maps only")
        self.colormap.setCurrentText(preferences.colormap())  # the last one used, or the one preferred
        self.colormap.currentTextChanged.connect(lambda name: QSettings().setValue(preferences.COLORMAP, name))
        self.side_by_side = QCheckBox("RL and RNFLD side by side")
        self.side_by_side.setToolTip("Both pathology maps at once, zoom and pan linked (Ctrl+B)")
        self.layers = QListWidget()
        self.layers.setToolTip("Feature layers whose maps are selected and summed; changing them re-runs the network")
        self.layers.setMaximumHeight(110)
        self.layers.itemChanged.connect(self._layers_ticked)
        self.counts = QLabel("")
        self.counts.setWordWrap(True)
        self.counts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # the range's own ends (0 and 1) as editable boxes read as thresholds: only the handles' values show
        self.cmi.setEdgeLabelMode(self.cmi.EdgeLabelMode.NoLabel)
        self.reset = QPushButton("Reset to the paper's thresholds")
        self.reset.setToolTip("θ act 0.10, θ CMI 0.10 – 0.90, CMI scaled by rank (Wang et al., MICCAI 2019)")
        self.reset.clicked.connect(self.reset_thresholds)
        for slider in (self.theta_act, self.cmi, self.opacity):
            # the value boxes take typed values: framed like the fields they are (superqt draws them bare)
            for box in slider.findChildren(QLineEdit):
                box.setStyleSheet(EDITABLE_STYLE)
            slider.setToolTip(slider.toolTip() + ". Drag, or click the value and type one.")
            slider.valueChanged.connect(lambda _v, slider=slider: snap(slider))
        layout.addRow("Map", self.pathology)
        layout.addRow("θ act", self.theta_act)
        layout.addRow("θ CMI", self.cmi)
        layout.addRow("CMI scale", self.normalization)
        layout.addRow(self.reset)
        layout.addRow("Opacity", self.opacity)
        layout.addRow("Colours", self.colormap)
        layout.addRow(self.side_by_side)
        layout.addRow("Layers", self.layers)
        layout.addRow(self.counts)
        self.set_thresholds(preferences.thresholds())  # the user's defaults (File ▸ Preferences…)
        for signal in (self.theta_act.valueChanged, self.cmi.valueChanged, self.opacity.valueChanged):
            signal.connect(self.changed)
        self.pathology.currentIndexChanged.connect(self._map_chosen)
        self.pathology.currentIndexChanged.connect(self.changed)
        self.normalization.currentIndexChanged.connect(self.changed)
        self.colormap.currentIndexChanged.connect(self.changed)
        self.side_by_side.toggled.connect(self.changed)

    def show_layers(self, names: list[str], in_use: list[str]) -> None:
        self.layers.blockSignals(True)
        self.layers.clear()
        for name in names:
            item = QListWidgetItem(name.removeprefix("network."))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in in_use else Qt.CheckState.Unchecked)
            self.layers.addItem(item)
        self.layers.blockSignals(False)

    def ticked_layers(self) -> list[str]:
        items = [self.layers.item(i) for i in range(self.layers.count())]
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def _layers_ticked(self, _item: QListWidgetItem) -> None:
        if self.ticked_layers():
            self.layers_changed.emit(self.ticked_layers())
        else:  # no network pass for an empty choice: the window says "no layer chosen" instead
            self.changed.emit()

    def no_layer_ticked(self) -> bool:
        return self.layers.count() > 0 and not self.ticked_layers()

    @staticmethod
    def map_choices() -> list[tuple[str, str]]:
        from fundus_viewer.core.methods import BASELINES, PATHOLOGIES, TITLES

        return [(p.display_name, p.key) for p in PATHOLOGIES] + [(f"{TITLES[b]} (baseline)", b) for b in BASELINES]

    def thresholds_object(self):
        from fundus_viewer.core.visualization.selection import Thresholds

        theta_act, low, high = self.thresholds()
        return Thresholds(theta_act, low, high, self.normalization.currentData())

    def thresholds(self) -> tuple[float, float, float]:
        """As the labels show them (two decimals): the window's maps and Table 1 use the CLI's numbers."""
        low, high = self.cmi.value()
        return tuple(round(float(v), DECIMALS) for v in (self.theta_act.value(), low, high))

    def reset_thresholds(self) -> None:
        """The paper's thresholds, whatever the user's defaults."""
        from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS as paper

        self.set_thresholds(paper)

    def set_thresholds(self, chosen) -> None:
        """Show ``chosen`` (a core ``Thresholds``) on the sliders and the CMI scale."""
        self.theta_act.setValue(chosen.theta_act)
        self.cmi.setValue((chosen.cmi_low, chosen.cmi_high))
        self.normalization.setCurrentIndex(self.normalization.findData(chosen.normalization))

    def _map_chosen(self) -> None:
        """The thresholds select the pathology-aware maps' feature maps: a baseline does not use them."""
        from fundus_viewer.core.methods import BASELINES

        baseline = self.pathology.currentData() in BASELINES
        for widget in (self.theta_act, self.cmi, self.normalization, self.reset):
            widget.setEnabled(not baseline)
        self.cmi.setToolTip(
            "Not used by a baseline map"
            if baseline
            else "Normalised CMI below the low handle: RNFLD set; above"
            " the high handle: RL set (paper: 0.1, 0.9). Drag, or click the value and type one."
        )


DECIMALS = 2  # what every slider's label shows, and what a threshold is
EDITABLE_STYLE = "border: 1px solid palette(mid); border-radius: 3px; background: palette(base); padding: 0 1px;"


def snap(slider) -> None:
    """A drag lands between the label's steps (0.1034…): the slider is put on the step its label shows."""
    value = slider.value()
    snapped = tuple(round(v, DECIMALS) for v in value) if isinstance(value, tuple) else round(value, DECIMALS)
    if snapped != value:
        slider.setValue(snapped)
