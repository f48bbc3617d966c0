"""The Synthesize view: a reference photo, its vessel map, and the Patho-GAN's and the baseline's
photos made from it, each with the RL and RNFLD maps the classifier draws on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from fundus_viewer.core.gan.compare import SynthesisComparison


class SynthesizeWindow(QWidget):
    request = Signal(int)  # seed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Patho-GAN — synthesize")
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.grid = pg.GraphicsLayoutWidget()
        self.seed = QSpinBox(
            maximum=2**31 - 1,
            toolTip="The noise code's seed: another seed, another synthetic photo from the same vessels",
        )
        self.run = QPushButton("Synthesize from the photo on screen")
        self.run.clicked.connect(lambda: self.request.emit(self.seed.value()))
        self.status = QLabel(
            "Open a photo in the main window, then synthesize: "
            "its vessels are segmented and both generators draw from them."
        )
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed)
        row.addWidget(self.run)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.grid, 1)
        self.comparison = None

    def busy(self) -> None:
        self.run.setEnabled(False)
        self.status.setText("Segmenting vessels and synthesizing…")

    def failed(self, message: str) -> None:
        self.run.setEnabled(True)
        self.status.setText(f"Synthesis failed: {message}")

    def show_comparison(self, comparison: SynthesisComparison) -> None:
        self.comparison = comparison
        self.run.setEnabled(True)
        self.grid.clear()
        self.status.setText(
            "Top: the photo and each generator's version of it. "
            "Below: the classifier's RL and RNFLD maps on its disc crop. "
            "Synthetic photos are for research, never for diagnosis."
        )
        vessels = np.repeat((comparison.pair.vessels[..., None] * 255).astype(np.uint8), 3, axis=2)
        self._cell(0, 0, vessels, "vessel map (segmented)")
        for column, r in enumerate(comparison.renditions, start=1):
            self._cell(0, column, r.image, f"{r.name}: P(glaucoma) {r.probability:.2f}")
            self._cell(1, column, r.rl, f"{r.name}: RL", heat=True)
            self._cell(2, column, r.rnfld, f"{r.name}: RNFLD", heat=True)

    def _cell(self, row: int, column: int, image: np.ndarray, title: str, heat: bool = False) -> None:
        view = self.grid.addViewBox(row=row * 2 + 1, col=column, lockAspect=True, invertY=True)
        self.grid.addLabel(title, row=row * 2, col=column)
        item = pg.ImageItem()
        if heat:
            item.setImage(
                image / max(1e-8, float(image.max())),
                levels=(0, 1),
                lut=pg.colormap.get("inferno").getLookupTable(0, 1, 256),
            )
        else:
            item.setImage(image, levels=(0, 255))
        view.addItem(item)
        view.autoRange(padding=0)
