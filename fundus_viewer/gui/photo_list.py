"""The folder's photos beside the view: status (not annotated / annotated / reviewed) and, once
analysed (in this session or, remembered, an earlier one), the classifier's glaucoma probability, its
call (red: glaucoma), the vertical cup-to-disc ratio and the unseen-camera flag. Choosing a row (one
click, or the arrow keys) opens that photo, so the row highlighted is always the photo shown; a photo
that could not be opened is marked and stepped past."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from fundus_viewer.core.formats import list_images

if TYPE_CHECKING:
    from collections.abc import Callable

MARKS = {"not annotated": "○", "annotated": "◐", "reviewed": "●"}
UNREADABLE = "⚠"


class PhotoList(QListWidget):
    photo_chosen = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.folder: Path | None = None
        self.probabilities: dict[str, float] = {}
        self.called: dict[str, bool] = {}  # name -> the model called it glaucoma
        self.vcdrs: dict[str, float] = {}
        self.unlike_training: set[str] = set()  # flagged by the classifier's OOD rule
        self.statuses: dict[str, str] = {}
        self.unreadable: dict[str, str] = {}  # path -> why it could not be opened
        self._selecting = False  # select_name follows the window; it must not ask to open again
        self.setToolTip(
            "○ not annotated · ◐ annotated · ● reviewed · ⚠ cannot be opened; once analysed: P = glaucoma "
            "probability (red: called glaucoma), vCDR = vertical cup-to-disc ratio, OOD = unlike the training photos"
        )
        self.currentItemChanged.connect(self._chosen)
        # Enter / double-click on the row already current: only a photo that failed is worth asking again
        # (opening the shown one again would drop its undo history and proposals)
        self.itemActivated.connect(
            lambda item: self._chosen(item) if item.data(Qt.ItemDataRole.UserRole) in self.unreadable else None
        )

    def _chosen(self, item: QListWidgetItem | None, *_) -> None:
        if item is not None and not self._selecting:
            self.photo_chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def show_folder(self, folder: Path, status_of: Callable[[str], str]) -> None:
        folder = Path(folder)
        if folder != self.folder:
            self.folder = folder
            self.clear_probabilities()
            self.unreadable.clear()
        current = self.currentItem()
        current_path = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        self._selecting = True  # clear() and addItem() move the current row
        self.clear()
        for path in list_images(folder):
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.addItem(item)
            self.statuses[path.name] = status_of(path.name)
            self._label(item)
            if str(path) == current_path:
                self.setCurrentItem(item)  # a refresh keeps the row of the photo shown
        self._selecting = False

    def _label(self, item: QListWidgetItem) -> None:
        name = Path(item.data(Qt.ItemDataRole.UserRole)).name
        if (why := self.unreadable.get(item.data(Qt.ItemDataRole.UserRole))) is not None:
            item.setText(f"{UNREADABLE} {name}")
            item.setToolTip(f"{name} cannot be opened: {why}")
            item.setForeground(QColor("#8a8a8a"))
            return
        status = self.statuses.get(name, "not annotated")
        p, vcdr, ood = self.probabilities.get(name), self.vcdrs.get(name), name in self.unlike_training
        numbers = [f"P {p:.2f}"] if p is not None else []
        numbers += [f"vCDR {vcdr:.2f}"] if vcdr is not None else []
        numbers += ["OOD"] if ood else []
        item.setText(f"{MARKS[status]} {name}" + (f"   {' · '.join(numbers)}" if numbers else ""))
        said = f"; P(glaucoma) {p:.3f}" if p is not None else "; not analysed yet"
        said += f", vCDR {vcdr:.2f}" if vcdr is not None else ""
        said += ", unlike the training photos (do not trust P)" if ood else ""
        item.setToolTip(f"{name}: {status}{said}")
        if p is not None and self.called.get(name, p >= 0.5):
            item.setForeground(QColor("#c0392b"))
        else:
            item.setData(Qt.ItemDataRole.ForegroundRole, None)  # the palette's own colour again

    def _item(self, name: str) -> QListWidgetItem | None:
        for row in range(self.count()):
            if Path(self.item(row).data(Qt.ItemDataRole.UserRole)).name == name:
                return self.item(row)
        return None

    def clear_probabilities(self) -> None:
        """Forget every number shown (another model is loaded, another folder listed)."""
        self.probabilities.clear()
        self.called.clear()
        self.vcdrs.clear()
        self.unlike_training.clear()
        for row in range(self.count()):
            self._label(self.item(row))

    def set_probability(self, name: str, p: float, called: bool | None = None) -> None:
        """``called``: the model's own call is glaucoma (its calibrated threshold; default P >= 0.5)."""
        self.probabilities[name] = p
        self.called[name] = p >= 0.5 if called is None else called
        if (item := self._item(name)) is not None:
            self._label(item)

    def set_result(self, name: str, result) -> None:
        """A core.results_cache.Result: P, the call, and the vCDR and OOD flag where measured."""
        if result.vcdr is not None:
            self.vcdrs[name] = result.vcdr
        else:
            self.vcdrs.pop(name, None)
        if result.ood_flagged:
            self.unlike_training.add(name)
        else:
            self.unlike_training.discard(name)
        self.set_probability(name, result.probability, result.called)

    def paths(self) -> list[Path]:
        return [Path(self.item(row).data(Qt.ItemDataRole.UserRole)) for row in range(self.count())]

    def set_status(self, name: str, status: str) -> None:
        self.statuses[name] = status
        if (item := self._item(name)) is not None:
            self._label(item)

    def mark_unreadable(self, path: Path, why: str) -> None:
        """Marked in the list of ``path``'s folder (a namesake elsewhere is not this photo)."""
        self.unreadable[str(path)] = why
        if path.parent == self.folder and (item := self._item(path.name)) is not None:
            self._label(item)

    def mark_readable(self, path: Path) -> None:
        if self.unreadable.pop(str(path), None) is not None and (item := self._item(path.name)) is not None:
            self._label(item)

    def select_name(self, name: str) -> None:
        if (item := self._item(name)) is not None:
            self._selecting = True
            try:
                self.setCurrentItem(item)
            finally:
                self._selecting = False

    def neighbour(self, name: str, step: int) -> str | None:
        """The path ``step`` rows from ``name``, past photos marked unreadable (None past either end)."""
        item = self._item(name)
        if item is None:
            return None
        row = self.row(item) + step
        while 0 <= row < self.count():
            path = self.item(row).data(Qt.ItemDataRole.UserRole)
            if path not in self.unreadable:
                return path
            row += step
        return None
