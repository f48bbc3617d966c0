"""The photo with a heat-map overlay and its colour bar (pyqtgraph, row-major images)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from fundus_viewer.gui.box_layer import BoxLayer, DrawingViewBox


class PhotoView(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.viewbox = DrawingViewBox()
        self.plot = self.addPlot(viewBox=self.viewbox)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.photo = pg.ImageItem()
        self.heat = pg.ImageItem()
        self.plot.addItem(self.photo)
        self.plot.addItem(self.heat)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("inferno"), interactive=False, label="heat")
        self.colorbar.setImageItem(self.heat)
        self.addItem(self.colorbar)
        self.boxes = BoxLayer(self.viewbox)
        # the classifier's disc and cup, where it segments them: white disc, cyan cup, above the heat
        self.outlines = {name: pg.PlotCurveItem(pen=pg.mkPen(colour, width=2)) for name, colour in (("disc", "#ffffff"), ("cup", "#00e5ff"))}
        for curve in self.outlines.values():
            curve.setZValue(5)
            self.plot.addItem(curve)

    def show_photo(self, rgb: np.ndarray) -> None:
        self.photo.setImage(rgb, levels=(0, 255))
        self.heat.clear()
        self.show_outlines(None)
        self.plot.autoRange()

    def show_outlines(self, outlines: dict | None) -> None:
        """Closed (N, 2) x, y polygons by name ("disc", "cup"); None or a missing name hides it."""
        for name, curve in self.outlines.items():
            points = (outlines or {}).get(name)
            if points is None:
                curve.setData([], [])
            else:
                curve.setData(points[:, 0], points[:, 1])

    def show_heat(self, heat: np.ndarray | None, colormap: str, opacity: float) -> None:
        if heat is None:
            self.heat.clear()
            return
        cmap = pg.colormap.get(colormap)
        self.colorbar.setColorMap(cmap)
        # Alpha rises with heat, so cold regions show the photo instead of the map's darkest colour;
        # below 0.1 of the peak nothing is drawn, so the edge of the analysed square does not show as a veil.
        lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=True)
        lut[:, 3] = (255 * np.clip((np.linspace(0, 1, 256) - 0.1) / 0.5, 0, 1)).astype(lut.dtype)
        self.heat.setImage(heat, levels=(0, 1), autoLevels=False, lut=lut)
        self.heat.setOpacity(opacity)
