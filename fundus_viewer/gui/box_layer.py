"""Ground-truth boxes drawn over the photo: drawing, selecting, moving, resizing (pyqtgraph ROIs).

The layer only shows boxes and reports what the user did; the main window turns each report into an
undoable command that writes the annotation store, so the screen, the undo stack and the file agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal

from fundus_viewer.core.annotations import Box
from fundus_viewer.core.drawing_colours import BOX_COLOURS as COLOURS

if TYPE_CHECKING:
    from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent


class DrawingViewBox(pg.ViewBox):
    """A ViewBox that, in draw mode, turns a left-button drag into a rectangle instead of a pan."""

    rect_drawn = Signal(float, float, float, float)  # x, y, w, h in image pixels

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.draw_label: str | None = None
        self._rubber = None

    def mouseDragEvent(self, event: MouseDragEvent, axis: int | None = None):
        if self.draw_label is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(event, axis)
        event.accept()
        start, now = self.mapSceneToView(event.buttonDownScenePos()), self.mapSceneToView(event.scenePos())
        rect = QRectF(start, now).normalized()
        if self._rubber is None:
            self._rubber = pg.RectROI(
                [rect.x(), rect.y()],
                [max(rect.width(), 1), max(rect.height(), 1)],
                pen=pg.mkPen(COLOURS[self.draw_label], width=2, style=Qt.PenStyle.DashLine),
                movable=False,
            )
            self.addItem(self._rubber)
        self._rubber.setPos(QPointF(rect.x(), rect.y()), update=False)
        self._rubber.setSize([max(rect.width(), 1), max(rect.height(), 1)])
        if event.isFinish():
            self.removeItem(self._rubber)
            self._rubber = None
            if rect.width() >= 3 and rect.height() >= 3:  # a click is not a box
                self.rect_drawn.emit(rect.x(), rect.y(), rect.width(), rect.height())


class BoxItem(pg.RectROI):
    def __init__(self, box: Box, editable: bool):
        pen = pg.mkPen(COLOURS[box.label], width=2, style=Qt.PenStyle.SolidLine if editable else Qt.PenStyle.DashLine)
        super().__init__([box.x, box.y], [box.w, box.h], pen=pen, movable=editable, resizable=editable, removable=False)
        self.box = box
        self.editable = editable
        if not editable:
            for handle in self.getHandles():
                self.removeHandle(handle)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.caption = pg.TextItem(f"{box.label} · {box.annotator}", color=COLOURS[box.label], anchor=(0, 1))
        self.caption.setParentItem(self)
        self.setToolTip(f"{box.label} box by {box.annotator}" + ("" if editable else " (read-only: not yours)"))

    def geometry(self) -> tuple[float, float, float, float]:
        pos, size = self.pos(), self.size()
        return float(pos.x()), float(pos.y()), float(size.x()), float(size.y())

    def set_drawing(self, drawing: bool) -> None:
        """In draw mode a drag that starts on a box draws a new one: the box neither moves nor shows its
        resize handle (a hidden item takes no mouse), and the drag falls through to the view."""
        self.translatable = self.editable and not drawing
        for handle in self.getHandles():
            handle.setVisible(not drawing)

    def set_selected(self, selected: bool) -> None:
        width = 4 if selected else 2
        style = Qt.PenStyle.SolidLine if self.editable else Qt.PenStyle.DashLine
        self.setPen(pg.mkPen(COLOURS[self.box.label], width=width, style=style))


class BoxLayer(QObject):
    """The boxes of the photo on screen."""

    moved = Signal(object, object)  # old Box, new Box (the user's drag or resize finished)
    selected = Signal(object)  # Box or None

    def __init__(self, viewbox: pg.ViewBox):
        super().__init__()
        self.viewbox = viewbox
        self.items: dict[str, BoxItem] = {}
        self.selected_id: str | None = None
        self.drawing = False

    def set_drawing(self, drawing: bool) -> None:
        self.drawing = drawing
        for item in self.items.values():
            item.set_drawing(drawing)

    def show_boxes(self, boxes: list[Box], annotator: str) -> None:
        for item in self.items.values():
            self.viewbox.removeItem(item)
        self.items.clear()
        self.selected_id = None
        for box in boxes:
            self.add(box, editable=box.annotator == annotator)

    def add(self, box: Box, editable: bool = True) -> None:
        item = BoxItem(box, editable)
        item.setZValue(10)
        item.set_drawing(self.drawing)
        item.sigRegionChangeFinished.connect(lambda roi: self._finished(roi))
        item.sigClicked.connect(lambda roi, _ev: self.select(roi.box.box_id))
        self.viewbox.addItem(item)
        self.items[box.box_id] = item

    def remove(self, box_id: str) -> None:
        item = self.items.pop(box_id, None)
        if item is not None:
            self.viewbox.removeItem(item)
        if self.selected_id == box_id:
            self.select(None)

    def update(self, box: Box) -> None:
        """Show ``box`` (after an undo or redo) without reporting it as a user's move."""
        item = self.items.get(box.box_id)
        if item is None:
            return
        item.box = box
        item.setPos(QPointF(box.x, box.y), update=False, finish=False)
        item.setSize([box.w, box.h], finish=False)

    def select(self, box_id: str | None) -> None:
        self.selected_id = box_id
        for key, item in self.items.items():
            item.set_selected(key == box_id)
        self.selected.emit(self.items[box_id].box if box_id in self.items else None)

    def selected_box(self) -> Box | None:
        item = self.items.get(self.selected_id)
        return None if item is None else item.box

    def _finished(self, item: BoxItem) -> None:
        old = item.box
        new = old.moved(*item.geometry())
        if (new.x, new.y, new.w, new.h) != (old.x, old.y, old.w, old.h) and item.editable:
            item.box = new
            self.select(old.box_id)
            self.moved.emit(old, new)
