"""Annotating in the main window: the store of the photo's folder, the undo stack, the actions.

Boxes live in ``fundus-viewer-annotations.sqlite`` beside the photos (or a project file the user picks);
every change is written the moment it is made, through an undoable command.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from fundus_viewer.core.annotations import FOLDER_FILE, AnnotationError, AnnotationStore, new_box
from fundus_viewer.gui import dialogs, preferences
from fundus_viewer.gui.annotation_commands import AddBox, DeleteBox, EditBox
from fundus_viewer.gui.photo_view import PhotoView

if TYPE_CHECKING:
    from fundus_viewer.core.annotations import Box
    from fundus_viewer.gui.annotation_commands import BoxCommand
    from fundus_viewer.gui.main_window import MainWindow


class AnnotationController(QObject):
    status_changed = Signal(str)  # photo name whose status (annotated / reviewed) may have changed

    def __init__(self, window: MainWindow, view: PhotoView):
        super().__init__(window)
        self.window, self.view, self.layer = window, view, view.boxes
        self.undo_stack = QUndoStack(self)
        self.store: AnnotationStore | None = None
        self.target: Path | None = None
        self.project_file: Path | None = None
        self.image: str | None = None
        # no default from the OS login: a later rename would strand the boxes under it (asked at the first box)
        self.annotator: str = QSettings().value(preferences.ANNOTATOR, "", type=str)
        view.viewbox.rect_drawn.connect(self.draw)
        self.layer.moved.connect(self.moved)
        self._build_actions()
        from fundus_viewer.gui.proposal_actions import ProposalActions

        self.proposals = ProposalActions(self)

    # -- actions ----------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w = self.window
        self.draw_group = QActionGroup(self)
        self.draw_group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.draw_rl = QAction(
            "Draw &RL box",
            w,
            shortcut=QKeySequence("R"),
            checkable=True,
            toolTip="Drag on the photo to draw a rim-loss box (R)",
        )
        self.draw_rnfld = QAction(
            "Draw RNF&LD box",
            w,
            shortcut=QKeySequence("N"),
            checkable=True,
            toolTip="Drag on the photo to draw an RNFL-defect box (N)",
        )
        for action, label in ((self.draw_rl, "RL"), (self.draw_rnfld, "RNFLD")):
            self.draw_group.addAction(action)
            action.toggled.connect(lambda on, label=label: self._draw_mode(label if on else None))
        self.stop_drawing = QAction(
            "Pan / select",
            w,
            shortcut=QKeySequence("Esc"),
            triggered=self.end_drawing,
            toolTip="Leave drawing mode: drag pans, a click selects a box (Esc)",
        )
        self.relabel = QAction(
            "Switch selected box RL ↔ RNFLD", w, shortcut=QKeySequence("L"), triggered=self.switch_label
        )
        self.delete = QAction(
            "&Delete selected box", w, shortcut=QKeySequence.StandardKey.Delete, triggered=self.delete_selected
        )
        self.undo = self.undo_stack.createUndoAction(w, "&Undo")
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo = self.undo_stack.createRedoAction(w, "&Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)  # some platforms' already hold Ctrl+Y
        self.redo.setShortcuts(redo_keys + [QKeySequence("Ctrl+Y")] * (QKeySequence("Ctrl+Y") not in redo_keys))
        self.reviewed = QAction(
            "Mark photo &reviewed",
            w,
            shortcut=QKeySequence("Ctrl+M"),
            checkable=True,
            triggered=self.set_reviewed,
            toolTip="Your mark that this photo's boxes are complete (Ctrl+M)",
        )
        self.save = QAction(
            "&Save",
            w,
            shortcut=QKeySequence.StandardKey.Save,
            triggered=self.confirm_saved,
            toolTip="Every change is already saved as you make it; this says where",
        )
        self.rename = QAction("Annotator &name…", w, triggered=self.ask_annotator)
        self.use_project = QAction(
            "Use a &project file…",
            w,
            triggered=self.choose_project,
            toolTip="Keep boxes in one file of your choice instead of beside the photos",
        )
        self.export = QAction("&Export boxes as COCO JSON…", w, triggered=self.export_coco)
        self.import_ = QAction("&Import boxes from COCO JSON…", w, triggered=self.import_coco)

    def menu_actions(self) -> list[QAction | None]:
        return [
            self.draw_rl,
            self.draw_rnfld,
            self.stop_drawing,
            self.relabel,
            self.delete,
            None,
            self.undo,
            self.redo,
            None,
            *self.proposals.actions(),
            None,
            self.reviewed,
            self.save,
            None,
            self.export,
            self.import_,
            None,
            self.rename,
            self.use_project,
        ]

    def _draw_mode(self, label: str | None) -> None:
        self.view.viewbox.draw_label = label
        self.layer.set_drawing(label is not None)
        self.window.statusBar().showMessage(
            f"Drag on the photo to draw an {label} box; Esc to stop" if label else "", 6000
        )

    def end_drawing(self) -> None:
        for action in (self.draw_rl, self.draw_rnfld):
            action.setChecked(False)

    # -- the photo on screen ----------------------------------------------------------------------
    def open_for(self, photo_path: Path) -> None:
        """Show the boxes of ``photo_path``, from its folder's store (or the project file)."""
        self.undo_stack.clear()  # undo history belongs to one photo
        self.proposals.layer.clear()  # and so do its proposals
        self.target = self.project_file or Path(photo_path).parent / FOLDER_FILE
        if self.store is not None and self.store.path != self.target:
            self.store.close()
            self.store = None
        # Viewing a folder writes nothing into it: the file is made with the first box or mark.
        if self.store is None and self.target.exists():
            self._open_store()
        self.image = Path(photo_path).name
        self.refresh()

    def _open_store(self) -> bool:
        try:
            self.store = AnnotationStore(self.target)
            return True
        except AnnotationError as exc:
            self.store = None
            QMessageBox.warning(
                self.window,
                "Annotations unavailable",
                f"{exc}\n\nChoose Annotate ▸ Use a project file… to keep boxes elsewhere.",
            )
            return False

    def refresh(self) -> None:
        boxes = self.store.boxes(self.image) if self.store is not None and self.image else []
        self.layer.show_boxes(boxes, self.annotator)
        self.reviewed.setChecked(bool(self.store and self.image and self.annotator in self.store.reviewers(self.image)))

    def status(self, image: str) -> str:
        return self.store.status(image) if self.store is not None else "not annotated"

    # -- edits ------------------------------------------------------------------------------------
    def _push(self, command: BoxCommand) -> bool:
        self.undo_stack.push(command)
        if command.error:
            self._not_saved("Box not saved", command.error)
            return False
        command.failed = self._undo_failed
        self.status_changed.emit(self.image)
        return True

    def _undo_failed(self, which: str, message: str) -> None:
        # told after the undo stack has finished with the command (it drops it), not from inside it
        title = "Not undone" if which == "undo" else "Not redone"
        QTimer.singleShot(0, self, lambda: self._not_saved(title, message))

    def _not_saved(self, title: str, message: str) -> None:
        QMessageBox.warning(self.window, title, message)
        self.refresh()  # show what the file holds
        self.status_changed.emit(self.image)

    def _ready(self) -> bool:
        if self.image is None:
            QMessageBox.information(self.window, "Annotate", "Open a photo to draw boxes on it.")
            return False
        return self.store is not None or self._open_store()

    def _named(self) -> bool:
        """A name before anything is recorded under it: asked once, at the first box or mark."""
        return bool(self.annotator) or self.ask_annotator(first=True)

    def draw(self, x: float, y: float, w: float, h: float) -> None:
        label = self.view.viewbox.draw_label
        if label is None or not self._ready() or not self._named():
            return
        self._push(AddBox(self.store, self.layer, new_box(self.image, label, x, y, w, h, self.annotator)))

    def moved(self, old: Box, new: Box) -> None:
        if self._ready():
            self._push(EditBox(self.store, self.layer, old, new, "move / resize box"))

    def delete_selected(self) -> None:
        box = self.layer.selected_box()
        if box is None or not self._ready():
            return
        if box.annotator != self.annotator:
            QMessageBox.information(
                self.window,
                "Delete box",
                f"That box belongs to {box.annotator}; only they can delete it. If {box.annotator} was you, "
                "Annotate ▸ Annotator name… takes over the boxes recorded under that name.",
            )
            return
        self._push(DeleteBox(self.store, self.layer, box))

    def switch_label(self) -> None:
        box = self.layer.selected_box()
        if box is None or not self._ready() or box.annotator != self.annotator:
            return
        from dataclasses import replace

        new = replace(box, label="RNFLD" if box.label == "RL" else "RL")
        self._push(EditBox(self.store, self.layer, box, new, f"relabel box {new.label}"))

    def set_reviewed(self, checked: bool) -> None:
        if not self._ready() or not self._named():
            self.reviewed.setChecked(False)
            return
        try:
            self.store.set_reviewed(self.image, self.annotator, checked)
        except AnnotationError as exc:
            QMessageBox.warning(self.window, "Not saved", str(exc))
        self.refresh()
        self.status_changed.emit(self.image)

    def confirm_saved(self) -> None:
        where = self.store.path if self.store else "nowhere (no photo open)"
        count = len(self.store.boxes()) if self.store else 0
        self.window.statusBar().showMessage(
            f"All {count} boxes are saved in {where} (every change is saved as you make it)", 8000
        )

    def annotator_choices(self) -> tuple[str, dict[str, int], list[str]]:
        """What a name choice offers: the name shown, every name with boxes in the open file (and its
        count), and the user's own earlier names (ticked for taking over)."""
        former = QSettings().value(preferences.FORMER_NAMES, [], type=list)
        # the user's own earlier names; before a name was ever set, boxes were recorded under the OS login
        mine = [*former, self.annotator or getpass.getuser()]
        names = self.store.annotators() if self.store is not None else {}
        return self.annotator or getpass.getuser(), names, mine

    def ask_annotator(self, first: bool = False) -> bool:
        """Ask for the name (and which earlier names' boxes are the user's own); True once one is set."""
        from fundus_viewer.gui.annotator_dialog import AnnotatorDialog

        dialog = AnnotatorDialog(*self.annotator_choices(), first, self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return bool(self.annotator)
        self.set_annotator(dialog.chosen_name(), dialog.taken_over())
        return True

    def set_annotator(self, name: str, takeovers: list[str]) -> None:
        """Annotate as ``name`` from now on, taking over the boxes recorded under ``takeovers``."""
        settings = QSettings()
        former = settings.value(preferences.FORMER_NAMES, [], type=list)
        moved = 0
        try:
            for old in takeovers:
                moved += self.store.take_over(old, name)
        except AnnotationError as exc:
            QMessageBox.warning(self.window, "Boxes not taken over", str(exc))
        if moved:
            self.undo_stack.clear()  # its commands hold the boxes under their old names
        earlier = [n for n in dict.fromkeys([*former, *takeovers, self.annotator]) if n and n != name]
        settings.setValue(preferences.FORMER_NAMES, earlier)
        self.annotator = name
        settings.setValue(preferences.ANNOTATOR, name)
        self.refresh()
        self.status_changed.emit(None)
        taken = f"; {moved} earlier boxes of yours are now recorded as {name}" if moved else ""
        self.window.statusBar().showMessage(f"Annotating as {name}{taken}", 8000)

    def choose_project(self) -> None:
        path = dialogs.save_file(
            self.window,
            "boxes",
            "Project file for boxes",
            "boxes.sqlite",
            "Annotation file (*.sqlite)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.project_file = Path(path)
            if self.image:
                self.open_for(Path(self.window.photo.path) if self.window.photo else Path(path))

    def export_coco(self, path: str | None = None) -> None:
        if not self._ready():
            return
        path = path or dialogs.save_file(self.window, "boxes", "Export boxes", "boxes.json", "COCO JSON (*.json)")
        if path:
            count = len(self.store.boxes())
            photo = self.window.photo
            folder = Path(photo.path).parent if photo is not None else None  # a project file's photos
            from fundus_viewer.core.errors import BoxesError

            try:
                self.store.export_coco(path, sizes=self.window.photo_sizes(), folder=folder)
            except BoxesError as exc:  # a photo whose size cannot be read: named, nothing written
                QMessageBox.warning(self.window, "Boxes not exported", str(exc))
                return
            self.window.statusBar().showMessage(f"Exported {count} boxes to {path}", 8000)

    def import_coco(self, path: str | None = None) -> None:
        if not self._ready():
            return
        path = path or dialogs.open_file(self.window, "boxes", "Import boxes", "COCO JSON (*.json)")
        if not path or not self._named():
            return
        from fundus_viewer.core.errors import BoxesError

        photo = self.window.photo
        notes: list[str] = []
        try:
            folder = Path(photo.path).parent if photo is not None else None
            count = self.store.import_coco(path, self.annotator, folder, notes)
        except BoxesError as exc:
            QMessageBox.warning(self.window, "Boxes not imported", str(exc))
            return
        self.refresh()
        if notes:  # clipped boxes, photos not in the folder: a count and the first few, not one line each
            head = notes if len(notes) <= 10 else [f"{len(notes)} warnings; the first 10:", *notes[:10]]
            more = [f"…and {len(notes) - 10} more"] if len(notes) > 10 else []
            QMessageBox.warning(self.window, "Boxes imported, with warnings", "\n".join(head + more))
        self.window.statusBar().showMessage(f"Imported {count} boxes as {self.annotator}", 8000)
        self.status_changed.emit(None)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
