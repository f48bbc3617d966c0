"""Who is drawing: the annotator's name, asked at the first box, and the earlier names whose boxes the user
takes over (a renamed user's own boxes would otherwise turn read-only under the new name)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)


class AnnotatorChoice(QWidget):
    """The name box and the list of names to take over: the annotator dialog's body, and the
    preferences dialog's annotator row (a rename there offers the same take-over)."""

    changed = Signal()

    def __init__(self, current: str, names: dict[str, int], mine: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.name = QComboBox(editable=True)
        self.name.addItems(sorted(names))
        self.name.setCurrentText(current)
        self.name.lineEdit().selectAll()
        layout.addWidget(self.name)
        self.others = QListWidget()
        self.others_label = QLabel("Also yours: take over the boxes recorded under these names in this file")
        self.others_label.setWordWrap(True)
        for other, count in sorted(names.items()):
            item = QListWidgetItem(f"{other}  ({count} box{'es' if count != 1 else ''})")
            item.setData(Qt.ItemDataRole.UserRole, other)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if other in mine else Qt.CheckState.Unchecked)
            self.others.addItem(item)
        layout.addWidget(self.others_label)
        layout.addWidget(self.others)
        self.name.currentTextChanged.connect(self._update)
        self._update()

    def chosen_name(self) -> str:
        return self.name.currentText().strip()

    def taken_over(self) -> list[str]:
        """The ticked names other than the chosen one."""
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in (self.others.item(i) for i in range(self.others.count()))
            if item.checkState() == Qt.CheckState.Checked and item.data(Qt.ItemDataRole.UserRole) != self.chosen_name()
        ]

    def _update(self) -> None:
        name = self.chosen_name()
        for i in range(self.others.count()):  # one's own current name is not taken over from oneself
            item = self.others.item(i)
            item.setHidden(item.data(Qt.ItemDataRole.UserRole) == name)
        visible = any(not self.others.item(i).isHidden() for i in range(self.others.count()))
        self.others.setVisible(visible)
        self.others_label.setVisible(visible)
        self.changed.emit()


class AnnotatorDialog(QDialog):
    """``names``: every name with boxes in the open file and its count; ``mine``: names of the user's own
    (their previous name, earlier names they took over), ticked for taking over when the file has them."""

    def __init__(
        self, current: str, names: dict[str, int], mine: list[str], first: bool, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle("Annotator")
        layout = QVBoxLayout(self)
        intro = (
            "Before your first box: your name, recorded with every box you draw and every photo you mark reviewed."
            if first
            else "Your name, recorded with every box you draw and every photo you mark reviewed."
        )
        text = QLabel(intro + " Boxes under other names are shown read-only.")
        text.setWordWrap(True)
        layout.addWidget(text)
        self.choice = AnnotatorChoice(current, names, mine)
        self.name, self.others, self.others_label = self.choice.name, self.choice.others, self.choice.others_label
        self.chosen_name, self.taken_over = self.choice.chosen_name, self.choice.taken_over
        layout.addWidget(self.choice)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.choice.changed.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.chosen_name()))
