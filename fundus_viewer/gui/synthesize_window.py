"""The Synthesize view: a reference photo, its vessel map, and the Patho-GAN's and the baseline's
photos made from it, each with the RL and RNFLD maps the classifier draws on it, overlaid as the main
view draws them (``PhotoView``); Save writes the synthetic photos and their maps (core ``write_synthesis``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS, Thresholds
from fundus_viewer.gui.photo_view import PhotoView

if TYPE_CHECKING:
    from fundus_viewer.core.gan.compare import SynthesisComparison

MAPS = (("rl", "RL"), ("rnfld", "RNFLD"))


class SynthesizeWindow(QWidget):
    request = Signal(int)  # seed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Patho-GAN — synthesize")
        self.seed = QSpinBox(
            maximum=2**31 - 1,
            toolTip="The noise code's seed: another seed, another synthetic photo from the same vessels",
        )
        self.run = QPushButton("Synthesize from the photo on screen")
        self.run.clicked.connect(lambda: self.request.emit(self.seed.value()))
        self.save_button = QPushButton("Save synthetic photos…", enabled=False)
        self.save_button.setToolTip(
            "The vessel map, each synthetic photo at its generated size, its RL and RNFLD maps (.npy and "
            "overlay PNG) and a JSON sidecar (seed, generators and their SHA-256, source photo, P values)"
        )
        self.save_button.clicked.connect(lambda: self.save())
        self.status = QLabel(
            "Open a photo in the main window, then synthesize: "
            "its vessels are segmented and both generators draw from them."
        )
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed)
        row.addWidget(self.run)
        row.addWidget(self.save_button)
        self.zoom = QCheckBox("Zoom to the analysed region", checked=True)
        self.zoom.setToolTip("Every photo framed on the part the classifier saw, or on the whole photo")
        self.zoom.toggled.connect(self._frame)
        row.addWidget(self.zoom)
        row.addStretch(1)
        self.grid = QGridLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addLayout(self.grid, 1)
        self.comparison = None
        self.views: dict[tuple[str, str], PhotoView] = {}  # (rendition name or "vessels", map key)
        self._look = (DEFAULT_THRESHOLDS, "inferno", 0.6)  # what the maps were drawn with: Save writes the same

    def busy(self) -> None:
        self.run.setEnabled(False)
        self.status.setText("Segmenting vessels and synthesizing…")

    def failed(self, message: str) -> None:
        self.run.setEnabled(True)
        self.status.setText(f"Synthesis failed: {message}")

    def show_comparison(
        self,
        comparison: SynthesisComparison,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        colormap: str = "inferno",
        opacity: float = 0.6,
    ) -> None:
        """The maps at the main window's thresholds, colour map and opacity when it was asked."""
        from fundus_viewer.core.pyramid import ImagePyramid

        self.comparison = comparison
        self._look = (thresholds, colormap, opacity)
        self.run.setEnabled(True)
        self.save_button.setEnabled(True)
        self._clear()
        real, size = comparison.real, comparison.pair.photo.shape[0]
        vessels = np.repeat(np.round(comparison.pair.vessels[..., None] * 255).astype(np.uint8), 3, axis=2)
        view = self._view(("vessels", ""), 0, 0, ImagePyramid(vessels), "vessel map (segmented)", rows=2)
        view.removeItem(view.colorbar)
        last = len(comparison.renditions)
        for column, r in enumerate(comparison.renditions, start=1):
            where = "" if r is real else f" · {size} px"
            for row, (key, label) in enumerate(MAPS):
                title = f"{r.name} · {label}<br>P(glaucoma) {r.probability:.3f}{where}"
                view = self._view((r.name, key), row, column, r.analysis.image.display, title)
                heat = r.maps(thresholds)[key]
                view.show_heat(heat, colormap, opacity)
                if heat.peak <= 0:
                    view.set_title(f"{r.name} · {label} (none positive)<br>P(glaucoma) {r.probability:.3f}{where}")
                if column != last:  # every map is scaled to its own peak in one colour map: one bar says it
                    view.removeItem(view.colorbar)
        self._link()
        QTimer.singleShot(0, self._frame)  # once the new views are laid out (a view without a size frames nothing)
        self.status.setText(self._explanation(comparison))

    def _explanation(self, comparison: SynthesisComparison) -> str:
        real, size = comparison.real, comparison.pair.photo.shape[0]
        t = real.analysis.transform
        text = (
            f"Real photo: the main window's analysis ({t.width} × {t.height} px; the classifier sees a "
            f"{t.side} px square at {t.crop} px), P(glaucoma) {real.probability:.3f}. "
        )
        if comparison.synthetic:
            s = comparison.synthetic[0].analysis.transform
            text += (
                f"The generators draw {size} px photos: the classifier sees the same part of the retina on "
                f"each, {s.side} px upsampled to {s.crop} px, so their P comes from less detail. "
            )
        return text + "Zoom and pan as in the main view. Synthetic photos are for research, never for diagnosis."

    def _view(self, key, row: int, column: int, pyramid, title: str, rows: int = 1) -> PhotoView:
        view = PhotoView()
        view.setMinimumSize(160, 160)
        self.grid.addWidget(view, row, column, rows, 1)
        view.show_photo(pyramid)
        view.set_title(title)
        view.setToolTip(title.replace("<br>", " · "))
        self.views[key] = view
        return view

    def _frame(self) -> None:
        """Every photo framed alike: on the square the classifier saw, with as much again around it, or
        on the whole square the generators' photos were cut from."""
        if self.comparison is None:
            return
        for r in self.comparison.renditions:
            if self.zoom.isChecked():
                t = r.analysis.transform
                left, top, side = t.left - t.side / 2, t.top - t.side / 2, 2 * t.side
            elif r is self.comparison.real and self.comparison.pair.square is not None:
                left, top, side = self.comparison.pair.square
            else:
                left, top, side = 0, 0, r.image.shape[0]
            self.views[(r.name, "rl")].viewbox.setRange(QRectF(left, top, side, side), padding=0.02)

    def _link(self) -> None:
        """Zoom and pan together: a photo's two maps, and every synthetic photo (all on one S x S grid)."""
        assert self.comparison is not None
        plots = [self.views[(r.name, "rl")].plot for r in self.comparison.synthetic]
        for r in self.comparison.renditions:
            first = self.views[(r.name, "rl")].plot
            leader = plots[0] if r is not self.comparison.real and plots else first
            for key, _label in MAPS:
                plot = self.views[(r.name, key)].plot
                if plot is not leader:
                    plot.setXLink(leader)
                    plot.setYLink(leader)

    def _clear(self) -> None:
        for view in self.views.values():
            self.grid.removeWidget(view)
            view.deleteLater()
        self.views.clear()

    def save(self, folder: str | Path | None = None) -> list[Path]:
        """Write the synthetic photos, their maps and the sidecar into ``folder`` (None: ask for one)."""
        from fundus_viewer.core.atomic import write_error_text
        from fundus_viewer.core.gan.export import write_synthesis
        from fundus_viewer.gui.dialogs import open_folder

        if self.comparison is None:
            return []
        if folder is None:
            folder = open_folder(self, "export", "Save synthetic photos in")
            if not folder:
                return []
        thresholds, colormap, opacity = self._look
        try:
            written = write_synthesis(self.comparison, folder, thresholds, colormap, opacity)
        except OSError as exc:
            QMessageBox.warning(
                self,
                "Save synthetic photos",
                f"Nothing was saved ({write_error_text(exc)}). The files written before the failure were "
                "removed again; choose another folder or free some space.",
            )
            return []
        self.status.setText(f"Saved {len(written)} files in {folder}.")
        return written
