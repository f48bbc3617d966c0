"""The photo with a heat-map overlay and its colour bar (pyqtgraph, row-major images).

Drawing is bound by the screen, not by the photo: the photo is drawn from the level of its pyramid that
has about one pixel per screen pixel, cropped to what is visible, and the heat map is resampled from
its small grid for the visible region at screen resolution. Zooming or panning re-renders both (once
per burst of range changes); a 12 MP photo costs what a 1 MP one does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from fundus_viewer.core.analysed_region import OUTLINE_ALPHA, edge_fade, fade_edges
from fundus_viewer.core.drawing_colours import OUTLINE_COLOURS
from fundus_viewer.gui.box_layer import BoxLayer, DrawingViewBox

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from fundus_viewer.core.pyramid import ImagePyramid
    from fundus_viewer.core.visualization.heat import GridMap

_MARGIN = 0.15  # a tile reaches this fraction of the view beyond each edge, so a small pan needs no new tile
_MAX_HEAT_PIXELS = 4_000_000  # a rendered map never exceeds this (a 4K screen's worth)
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


class _PaintReadyImage(pg.ImageItem):
    """An ImageItem whose QImage is converted once, when it is rendered, to the format Qt's raster engine
    draws without converting: otherwise every repaint (each slider step repaints the photo under the
    map) converts the whole RGB888 tile or indexed map again."""

    def __init__(self, qimage_format: QImage.Format):
        super().__init__()
        self._format = qimage_format

    def render(self):
        super().render()
        if self.qimage is not None and self.qimage.format() != self._format:
            self.qimage = self.qimage.convertToFormat(self._format)


class PhotoView(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(imageAxisOrder="row-major")
        self.viewbox = DrawingViewBox()
        self.plot = self.addPlot(viewBox=self.viewbox)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.viewbox.disableAutoRange()  # tiles change their bounds as the view moves: never chase them
        self.photo = _PaintReadyImage(QImage.Format.Format_RGB32)
        self.heat = _PaintReadyImage(QImage.Format.Format_ARGB32_Premultiplied)
        self.plot.addItem(self.photo)
        self.plot.addItem(self.heat)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=pg.colormap.get("inferno"), interactive=False, label="heat"
        )
        self.addItem(self.colorbar)
        self.boxes = BoxLayer(self.viewbox)
        # the classifier's disc and cup, where it segments them: white disc, cyan cup, above the heat
        self.outlines = {
            name: pg.PlotCurveItem(pen=pg.mkPen(colour, width=2))
            for name, colour in OUTLINE_COLOURS.items()  # the exported figure's too
        }
        for curve in self.outlines.values():
            curve.setZValue(5)
            self.plot.addItem(curve)
        # the part of the photo the network saw, outlined faintly: the map's edge is its frame, not a finding
        self.analysed = QGraphicsRectItem()
        pen = QPen(QColor(255, 255, 255, round(255 * OUTLINE_ALPHA)), 0, Qt.PenStyle.DashLine)  # 0: one screen px
        pen.setCosmetic(True)
        self.analysed.setPen(pen)
        self.analysed.setZValue(4)
        self.analysed.setVisible(False)
        self.plot.addItem(self.analysed)
        self.pyramid = None  # core.pyramid.ImagePyramid of the photo on screen
        self.display_settings = None  # core DisplaySettings (brightness, red-free…); None: the photo as it is
        self._adjusted = None  # core AdjustedPyramid of self.pyramid under those settings
        self.heat_map = None  # core GridMap on screen, or None
        self._lut = None
        self._colormap = None
        self._photo_tile = None  # (level, region) of the photo pixels on screen
        self.shown_heat = None  # (values in [0, 1], region) as last drawn: what the screen shows
        self._refresh_timer = QTimer(self, singleShot=True, interval=0, timeout=self.refresh)
        self.viewbox.sigRangeChanged.connect(self._range_changed)
        self.viewbox.sigResized.connect(self._range_changed)

    def _range_changed(self, *_args) -> None:
        self._refresh_timer.start()  # once per burst of wheel or drag events

    # --- what is shown ------------------------------------------------------------------------
    def show_photo(self, pyramid: ImagePyramid) -> None:
        """A photo's ``ImagePyramid`` (built in the worker); the view fits it."""
        self.pyramid = pyramid
        self._photo_tile = None
        self.heat_map = None
        self.heat.clear()
        self.shown_heat = None
        self.analysed.setVisible(False)
        self.show_outlines(None)
        self.fit()

    def set_display(self, settings) -> None:
        """Brightness, contrast, gamma, red-free (a core ``DisplaySettings``): only the pixels on screen change."""
        self.display_settings = None if settings.identity else settings
        if self._adjusted is not None and self.display_settings is not None:
            self._adjusted.settings = self.display_settings  # keeps the CLAHE of each level made so far
        self._photo_tile = None
        self._draw_photo()

    def set_title(self, title: str | None) -> None:
        if title != getattr(self, "_title", ""):  # a new title re-lays the plot out: only when it changes
            self.plot.setTitle(title)
            self._title = title

    def fit(self) -> None:
        """Undo zoom and pan: the whole photo."""
        if self.pyramid is not None:
            self.viewbox.setRange(QRectF(0, 0, self.pyramid.width, self.pyramid.height), padding=0.02)
            self.refresh()

    def show_outlines(self, outlines: dict | None) -> None:
        """Closed (N, 2) x, y polygons by name ("disc", "cup"); None or a missing name hides it."""
        for name, curve in self.outlines.items():
            points = (outlines or {}).get(name)
            if points is None:
                curve.setData([], [])
            else:
                curve.setData(points[:, 0], points[:, 1])

    def show_heat(self, heat_map: GridMap | None, colormap: str, opacity: float) -> None:
        """A core ``GridMap`` (or None for no overlay), drawn for the visible region at screen resolution."""
        self.heat_map = heat_map
        if heat_map is None:
            self.heat.clear()
            self.shown_heat = None
            self.analysed.setVisible(False)
            return
        ex0, ey0, ex1, ey1 = heat_map.extent
        whole = self.pyramid is not None and (ex0, ey0, ex1, ey1) == (0, 0, self.pyramid.width, self.pyramid.height)
        self.analysed.setRect(QRectF(ex0, ey0, ex1 - ex0, ey1 - ey0))
        self.analysed.setVisible(not whole)
        if colormap != self._colormap:  # a new colour bar repaints its axis: only when it changes
            cmap = pg.colormap.get(colormap)
            self.colorbar.setColorMap(cmap)
            # Alpha rises with heat, so cold regions show the photo instead of the map's darkest colour;
            # below 0.1 of the peak nothing is drawn, so no heat is no tint.
            lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=True)
            lut[:, 3] = (255 * np.clip((np.linspace(0, 1, 256) - 0.1) / 0.5, 0, 1)).astype(lut.dtype)
            self._lut, self._colormap = lut.astype(np.uint8), colormap
        self.heat.setOpacity(opacity)
        self._draw_heat()

    # --- drawing what the screen shows --------------------------------------------------------
    def refresh(self) -> None:
        """Re-draw the photo tile (only if the view left it or needs another level) and the heat map."""
        self._draw_photo()
        self._draw_heat()

    def visible(self) -> tuple[tuple[float, float, float, float], float]:
        """(x0, y0, x1, y1) of the photo coordinates in view, and photo pixels per device pixel."""
        rect = self.viewbox.viewRect()
        pixel = self.viewbox.viewPixelSize()[0] if self.viewbox.width() > 0 else 1.0
        ratio = self.devicePixelRatioF() or 1.0
        return (rect.left(), rect.top(), rect.right(), rect.bottom()), max(pixel / ratio, 1e-6)

    def _with_margin(self, region: Rect, bounds: Rect) -> Rect:
        x0, y0, x1, y1 = region
        mx, my = (x1 - x0) * _MARGIN, (y1 - y0) * _MARGIN
        bx0, by0, bx1, by1 = bounds
        return max(bx0, x0 - mx), max(by0, y0 - my), min(bx1, x1 + mx), min(by1, y1 + my)

    def _draw_photo(self) -> None:
        if self.pyramid is None:
            return
        region, pixel = self.visible()
        level = self.pyramid.level_for(pixel)
        source = self.pyramid
        if self.display_settings is not None:
            if self._adjusted is None or self._adjusted.pyramid is not self.pyramid:
                from fundus_viewer.core.display_adjust import AdjustedPyramid

                self._adjusted = AdjustedPyramid(self.pyramid, self.display_settings)
            source = self._adjusted
        if (
            self._photo_tile is not None
            and self._photo_tile[0] == level
            and _covers(self._photo_tile[1], region, (0, 0, self.pyramid.width, self.pyramid.height))
        ):
            return  # what is on screen still covers the view at the right detail
        tile, covered = source.crop(level, self._with_margin(region, (0, 0, self.pyramid.width, self.pyramid.height)))
        self.photo.setImage(tile, autoLevels=False)  # uint8 RGB, no levels: Qt takes the bytes as they are
        self.photo.setRect(QRectF(covered[0], covered[1], covered[2] - covered[0], covered[3] - covered[1]))
        self._photo_tile = (level, covered)

    def _draw_heat(self) -> None:
        if self.heat_map is None:
            return
        region, pixel = self.visible()
        # exactly what is visible (no margin: the map is re-rendered on every move anyway)
        ex0, ey0, ex1, ey1 = self.heat_map.extent
        x0, y0, x1, y1 = max(region[0], ex0), max(region[1], ey0), min(region[2], ex1), min(region[3], ey1)
        if x1 <= x0 or y1 <= y0:
            self.heat.clear()
            self.shown_heat = None
            return
        width, height = max(1, round((x1 - x0) / pixel)), max(1, round((y1 - y0) / pixel))
        if width * height > _MAX_HEAT_PIXELS:
            shrink = (width * height / _MAX_HEAT_PIXELS) ** 0.5
            width, height = max(1, int(width / shrink)), max(1, int(height / shrink))
        values = self.heat_map.render((x0, y0, x1, y1), (width, height))
        # an 8-bit index into the colour table: Qt draws it as an indexed image, no RGBA copy here.
        # (OpenCV is imported here, not at the top: the worker has loaded it long before; start-up has not.)
        import cv2

        index = cv2.convertScaleAbs(values, alpha=255.0)
        fx, fy = edge_fade(index.shape, (x0, y0, x1, y1), self.heat_map.extent)
        if fx.min() < 1 or fy.min() < 1:
            # the fading edge is in view: an RGBA copy whose alpha alone fades (a faded index would pass
            # through the colour map's dark end and draw a dark frame)
            rgba = self._lut[index]
            fade_edges(rgba[..., 3], (x0, y0, x1, y1), self.heat_map.extent)
            self.heat.setImage(rgba, autoLevels=False, lut=None)
        else:
            self.heat.setImage(index, autoLevels=False, lut=self._lut)
        self.heat.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.shown_heat = (values, (x0, y0, x1, y1))


def _covers(outer: Rect, inner: Rect, bounds: Rect) -> bool:
    """Does ``outer`` hold ``inner`` (both x0, y0, x1, y1), where ``inner`` lies inside ``bounds``?"""
    clipped = (max(inner[0], bounds[0]), max(inner[1], bounds[1]), min(inner[2], bounds[2]), min(inner[3], bounds[3]))
    return (
        outer[0] <= clipped[0] + 1e-6
        and outer[1] <= clipped[1] + 1e-6
        and outer[2] >= clipped[2] - 1e-6
        and outer[3] >= clipped[3] - 1e-6
    )
