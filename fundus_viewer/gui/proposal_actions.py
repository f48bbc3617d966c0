"""Annotate ▸ Propose boxes from the maps: the RL / RNFLD maps of the photo on screen thresholded
(core ``proposals``), the regions shown as proposals; A accepts the current one (an ordinary, undoable
box of the annotator's, its origin recorded), X rejects it, ] moves to the next."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QMessageBox,
    QWidget,
)

from fundus_viewer.core.annotations import new_box
from fundus_viewer.core.methods import Pathology
from fundus_viewer.core.proposals import propose_boxes
from fundus_viewer.gui.annotation_commands import AcceptProposal, RejectProposal
from fundus_viewer.gui.proposal_layer import ProposalLayer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fundus_viewer.gui.annotation_controller import AnnotationController

MAPS = {p.value: p.map_name for p in Pathology}  # box label -> the map its boxes are proposed from


class ProposalSettings(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Propose boxes from the maps")
        settings = QSettings()
        self.method = QComboBox()
        self.method.addItem("Otsu's threshold", "otsu")
        self.method.addItem("Percentile of the heat", "percentile")
        self.method.setCurrentIndex(max(0, self.method.findData(settings.value("proposals/method", "otsu"))))
        self.percentile = QDoubleSpinBox(
            minimum=50.0,
            maximum=99.9,
            singleStep=1.0,
            decimals=1,
            suffix=" th",
            value=float(settings.value("proposals/percentile", 90.0)),
        )
        self.maps = {label: QCheckBox(f"{label} map") for label in MAPS}
        for check in self.maps.values():
            check.setChecked(True)
        self.method.currentIndexChanged.connect(
            lambda: self.percentile.setEnabled(self.method.currentData() == "percentile")
        )
        self.percentile.setEnabled(self.method.currentData() == "percentile")
        form = QFormLayout(self)
        form.addRow("Threshold", self.method)
        form.addRow("Percentile", self.percentile)
        for check in self.maps.values():
            form.addRow("", check)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Propose")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen(self) -> tuple[str, float, list[str]]:
        QSettings().setValue("proposals/method", self.method.currentData())
        QSettings().setValue("proposals/percentile", self.percentile.value())
        return (
            self.method.currentData(),
            self.percentile.value(),
            [label for label, check in self.maps.items() if check.isChecked()],
        )


class ProposalActions(QObject):
    def __init__(self, controller: AnnotationController):
        super().__init__(controller)
        self.controller = controller
        self.layer = ProposalLayer(controller.view.viewbox)
        w = controller.window
        self.propose = QAction(
            "Propose &boxes from the maps…",
            w,
            shortcut=QKeySequence("Ctrl+P"),
            triggered=self.ask_and_propose,
            toolTip=(
                "Threshold the RL / RNFLD maps into proposed boxes to accept (A) or reject (X); "
                "never ground truth until accepted"
            ),
        )
        self.accept = QAction("&Accept proposed box", w, shortcut=QKeySequence("A"), triggered=self.accept_current)
        self.reject = QAction("Re&ject proposed box", w, shortcut=QKeySequence("X"), triggered=self.reject_current)
        self.next = QAction("Next proposed box", w, shortcut=QKeySequence("]"), triggered=self.layer.next)

    def actions(self) -> list[QAction]:
        return [self.propose, self.accept, self.reject, self.next]

    def ask_and_propose(self) -> int:
        dialog = ProposalSettings(self.controller.window)
        if not dialog.exec():
            return 0
        return self.propose_from_maps(*dialog.chosen())

    def propose_from_maps(
        self, method: str = "otsu", percentile: float = 90.0, labels: Sequence[str] = ("RL", "RNFLD")
    ) -> int:
        window = self.controller.window
        maps = window.current_maps()
        if maps is None:
            QMessageBox.information(window, "Propose boxes", "Open a photo and wait for its maps first.")
            return 0
        found = [
            p
            for label in labels
            for p in propose_boxes(maps.full(MAPS[label]), label, method, percentile, source=MAPS[label])
        ]
        self.layer.show(found)
        window.statusBar().showMessage(
            f"{len(found)} proposed box(es): A accepts the highlighted one, X rejects it, ] moves on; "
            "none is ground truth until accepted"
            if found
            else "The maps gave no region above the threshold",
            10000,
        )
        return len(found)

    def accept_current(self) -> None:
        proposal = self.layer.current_proposal()
        controller = self.controller
        if proposal is None or not controller._ready() or not controller._named():
            return
        box = new_box(controller.image, proposal.label, *proposal.rect, controller.annotator)
        controller._push(AcceptProposal(controller.store, controller.layer, self.layer, proposal, box))

    def reject_current(self) -> None:
        proposal = self.layer.current_proposal()
        if proposal is not None:
            self.controller.undo_stack.push(RejectProposal(self.layer, proposal))
