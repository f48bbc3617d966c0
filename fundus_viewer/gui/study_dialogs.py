"""Setting up a study from the app: arms and their folders, pairing, seed, repeats, image size."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.study.create import create_study, parse_arms
from fundus_viewer.gui import dialogs

if TYPE_CHECKING:
    from collections.abc import Callable


def path_row(edit: QLineEdit, choose: Callable[[], object]) -> QHBoxLayout:
    """A path field with its Choose… button."""
    browse = QPushButton("Choose…")
    browse.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


class CreateStudyDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New rating study")
        self.created: Path | None = None
        self.arms = QTableWidget(0, 2)
        self.arms.setHorizontalHeaderLabels(["arm (hidden from raters)", "folder of images"])
        self.arms.horizontalHeader().setStretchLastSection(True)
        self.arms.setColumnWidth(0, 220)
        add = QPushButton("Add arm…", toolTip="Choose a folder of images; its name becomes the arm's name (editable)")
        add.clicked.connect(self.add_arm)
        remove = QPushButton("Remove arm", toolTip="Remove the selected arm")
        remove.clicked.connect(lambda: self.arms.removeRow(self.arms.currentRow()))
        arm_buttons = QHBoxLayout()
        arm_buttons.addWidget(add)
        arm_buttons.addWidget(remove)
        arm_buttons.addStretch(1)

        self.out = QLineEdit(placeholderText="where the study file goes")
        out_row = path_row(self.out, self.choose_out)
        self.pair_by = QLineEdit(placeholderText=r"e.g. (\d+): images sharing this part of their name form a pair")
        self.seed = QSpinBox(maximum=2**31 - 1, toolTip="Seeds case numbers, repeated cases and every rater's order")
        self.repeats = QSpinBox(maximum=10000, toolTip="Cases shown twice, to measure each rater's consistency")
        self.size = QSpinBox(
            minimum=128,
            maximum=4096,
            value=512,
            singleStep=64,
            suffix=" px",
            toolTip="Every image is re-encoded as a PNG of this size",
        )
        self.title = QLineEdit(placeholderText="shown to raters: must not name an arm")
        self.task = QComboBox(toolTip="What raters are asked of each image")
        self.task.addItem("Scores: RL and RNFLD clarity, 1-5", "score")
        self.task.addItem("Real or synthetic, and how sure", "real-or-synthetic")
        self.real_arm = QLineEdit("real", toolTip="The arm holding the real photos; every other arm is synthetic")
        self.confidence = QCheckBox(
            "Also ask how sure the rater is", toolTip="guessing / fairly sure / certain, after the scores"
        )
        self.task.currentIndexChanged.connect(self._task_changed)
        self.calibration = QLineEdit(
            placeholderText="optional: a folder of images with reference.csv, shown first with feedback"
        )
        calibration_row = path_row(self.calibration, self.choose_calibration)

        form = QFormLayout()
        form.addRow("Study file", out_row)
        form.addRow("Task", self.task)
        form.addRow("Real arm", self.real_arm)
        form.addRow("", self.confidence)
        form.addRow("Calibration cases", calibration_row)
        form.addRow("Pair by (regex)", self.pair_by)
        form.addRow("Seed", self.seed)
        form.addRow("Repeated cases", self.repeats)
        form.addRow("Image size", self.size)
        form.addRow("Title", self.title)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.button(QDialogButtonBox.StandardButton.Ok).setText("Create study")
        box.accepted.connect(self.create)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.arms)
        layout.addLayout(arm_buttons)
        layout.addLayout(form)
        layout.addWidget(box)
        self.resize(760, 600)
        self._task_changed()

    def _task_changed(self) -> None:
        real_or_synthetic = self.task.currentData() == "real-or-synthetic"
        self.real_arm.setEnabled(real_or_synthetic)
        self.confidence.setEnabled(not real_or_synthetic)  # a real-or-synthetic study always asks how sure

    def choose_calibration(self) -> None:
        folder = dialogs.open_folder(self, "study-images", "Calibration images (with reference.csv)")
        if folder:
            self.calibration.setText(folder)

    def add_arm(self, folder: str | None = None, name: str | None = None) -> None:
        folder = folder or dialogs.open_folder(self, "study-images", "Folder of one arm's images")
        if not folder:
            return
        row = self.arms.rowCount()
        self.arms.insertRow(row)
        self.arms.setItem(row, 0, QTableWidgetItem(name or Path(folder).name))
        path_item = QTableWidgetItem(str(folder))
        path_item.setFlags(path_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.arms.setItem(row, 1, path_item)

    def choose_out(self) -> None:
        path = dialogs.save_file(self, "study", "New study file", "study.fvstudy", "Fundus Viewer study (*.fvstudy)")
        if path:
            self.out.setText(path)

    def create(self) -> None:
        specs = [f"{self.arms.item(r, 0).text()}={self.arms.item(r, 1).text()}" for r in range(self.arms.rowCount())]
        if not self.out.text().strip():
            QMessageBox.warning(self, "New rating study", "Choose where the study file goes.")
            return
        progress = QProgressDialog("Re-encoding images…", "", 0, 0, self)
        progress.setCancelButton(None)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)

        def step(done: int, total: int) -> None:
            progress.setMaximum(total)
            progress.setValue(done)
            QApplication.processEvents()

        try:
            arms = parse_arms(specs)
            study = create_study(
                self.out.text().strip(),
                arms,
                size=self.size.value(),
                pair_by=self.pair_by.text().strip() or None,
                repeats=self.repeats.value(),
                seed=self.seed.value(),
                title=self.title.text().strip(),
                progress=step,
                calibration=self.calibration.text().strip() or None,
                task=self.task.currentData(),
                real_arm=self.real_arm.text().strip(),
                confidence=self.confidence.isChecked(),
            )
        except FundusViewerError as exc:
            progress.close()
            QMessageBox.critical(self, "Study not created", str(exc))
            return
        progress.close()
        n = len(study.case_ids())
        study.close()
        self.created = Path(self.out.text().strip())
        QMessageBox.information(
            self, "Study created", f"{self.created.name}: {n} cases. Hand this one file to each rater."
        )
        self.accept()


def ask_rater_name(parent: QWidget | None) -> str | None:
    name, ok = QInputDialog.getText(
        parent, "Rate a study", "Your name (reopening with the same name resumes where you stopped):"
    )
    return name.strip() if ok and name.strip() else None


def confirm_rater(parent: QWidget | None, path: str | Path, name: str) -> bool:
    """A name that already has answers goes on only when its rater says so: typing another rater's name
    by accident would show and change their answers."""
    from fundus_viewer.core.study.store import StudyFile

    with StudyFile(path, readonly=True) as study:
        count = study.answer_count(name)
    if not count:
        return True
    reply = QMessageBox.question(
        parent,
        "Rate a study",
        f"{name} already has {count} answers in this study; continue as {name}?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return reply == QMessageBox.StandardButton.Yes
