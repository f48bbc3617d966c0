"""The paper's Table 1 for the boxes drawn in this folder: computed in the worker, with progress,
cancel, a per-image drill-down (double-click opens the photo) and CSV export."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.evaluation import LEVELS, METRIC_TITLES, METRICS, PERCENT, Evaluation
from fundus_viewer.core.methods import METHODS, TITLES
from fundus_viewer.gui import dialogs

NAMES = {**TITLES, "chance": "flat map (chance)", "chance-seen": "flat where the model sees"}


class EvaluateDialog(QDialog):
    run_requested = Signal(tuple, tuple)  # methods, metrics
    cancel_requested = Signal()
    open_photo = Signal(str)  # file name

    def __init__(self, folder: str, n_images: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Localisation accuracy (paper, Table 1) — {folder}")
        self.result: Evaluation | None = None
        self.checks = {m.key: QCheckBox(m.title) for m in METHODS}
        for m in METHODS:
            self.checks[m.key].setChecked(True)
            self.checks[m.key].setToolTip("takes seconds per photo on a CPU" if m.slow else "")
        methods_row = QHBoxLayout()
        for check in self.checks.values():
            methods_row.addWidget(check)
        self.metric_checks = {m: QCheckBox(METRIC_TITLES[m]) for m in METRICS}
        self.metric_checks["accuracy"].setChecked(True)  # the paper's
        for m in ("deletion", "insertion"):
            self.metric_checks[m].setToolTip("21 passes of the network per map and curve: slower")
        metrics_row = QHBoxLayout()
        for check in self.metric_checks.values():
            metrics_row.addWidget(check)
        self.info = QLabel(
            f"{n_images} photos with boxes in this folder. "
            "Accuracy = heat inside the boxes / all heat, per photo; mean ± std %."
        )
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.export_button = QPushButton("Export CSV…", enabled=False)
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.progress = QProgressBar()
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.export_button):
            buttons.addWidget(b)
        buttons.addWidget(self.progress, 1)
        self.table = QTableWidget()
        self.details = QTableWidget()
        self.details.setToolTip("Double-click a row to open that photo")
        self.details.cellDoubleClicked.connect(lambda row, _c: self.open_photo.emit(self.details.item(row, 0).text()))
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addLayout(methods_row)
        layout.addLayout(metrics_row)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Table 1"))
        layout.addWidget(self.table)
        layout.addWidget(QLabel("Per photo"))
        layout.addWidget(self.details, 1)
        self.resize(980, 640)

    def methods(self) -> tuple[str, ...]:
        return tuple(m for m, check in self.checks.items() if check.isChecked())

    def metrics(self) -> tuple[str, ...]:
        return tuple(m for m, check in self.metric_checks.items() if check.isChecked())

    def run(self) -> None:
        if not self.methods() or not self.metrics():
            return
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.run_requested.emit(self.methods(), self.metrics())

    def on_progress(self, done: int, total: int, name: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total}  {name}")

    def on_done(self, result: Evaluation | str) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if isinstance(result, Evaluation) and not result.cancelled else 0)
        if not isinstance(result, Evaluation):
            self.progress.setFormat("failed")
            self.info.setText(str(result))
            return
        self.result = result
        self.progress.setFormat("cancelled" if result.cancelled else "done")
        self.export_button.setEnabled(True)
        methods = self.methods()
        columns = [*methods, *LEVELS]
        rows = [
            (
                metric,
                pathology,
                row,
                result.paired(methods, metric).get(pathology, {}) if "pathology" in methods else {},
            )
            for metric in result.metrics
            for pathology, row in result.table(methods, metric).items()
            if any(n for _, _, n in row.values())
        ]  # a pathology without boxes in this folder has no row
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels([NAMES[c] for c in columns])
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels(
            [f"{METRIC_TITLES[m]}{' %' if m in PERCENT else ''} · {p}" for m, p, _, _ in rows]
        )
        for r, (metric, _, row, paired) in enumerate(rows):
            digits = 1 if metric in PERCENT else 3
            for c, column in enumerate(columns):
                mean, std, n = row[column]
                test = paired.get(column)
                p = f"  · Wilcoxon p {test['wilcoxon_p']:.2g}" if test and test["n"] >= 2 else ""
                self.table.setItem(
                    r, c, QTableWidgetItem(f"{mean:.{digits}f} ± {std:.{digits}f}  (n {n}){p}" if n else "-")
                )
        self.table.resizeColumnsToContents()
        headers = ["photo", "method", "pathology", "metric", "value"]
        self.details.setColumnCount(len(headers))
        self.details.setHorizontalHeaderLabels(headers)
        self.details.setRowCount(len(result.scores))
        for r, score in enumerate(result.scores):
            value = f"{100 * score.value:.1f} %" if score.metric in PERCENT else f"{score.value:.3f}"
            for c, text in enumerate(
                [score.file_name, NAMES[score.method], score.pathology, METRIC_TITLES[score.metric], value]
            ):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.details.setItem(r, c, item)
        self.details.resizeColumnsToContents()
        if result.failures:
            self.info.setText("Skipped: " + "; ".join(f"{k}: {v}" for k, v in result.failures.items()))

    def export_csv(self, path: str | None = None) -> None:
        if self.result is None:
            return
        path = path or dialogs.save_file(self, "export", "Export Table 1", "table1.csv", "CSV (*.csv)")
        if path:
            self.result.write_csv(path, self.methods())
