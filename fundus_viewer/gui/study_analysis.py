"""The study owner's Analysis view (unblinded): per-arm statistics, tests, agreement and histograms."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.study.report import (
    analyze_study,
    format_number,
    format_p,
    format_text,
    write_answers_csv,
    write_json,
)
from fundus_viewer.core.study.stats import StudyAnalysis
from fundus_viewer.core.study.store import StudyFile, reading
from fundus_viewer.gui import dialogs

COLOURS = ["#4aa3ff", "#ff9f43", "#7bd389", "#e05d5d", "#b48ef0"]


class AnalysisWindow(QWidget):
    def __init__(self, study_path: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.study_path = Path(study_path)
        self.setWindowTitle(f"Study analysis — {self.study_path.name} (unblinded)")
        self.table = QTableWidget()
        self.tests = QTableWidget()
        self.tests.setToolTip("Two-sided tests on case scores; paired columns use the pairing key")
        self.calls = QTableWidget()  # a real-or-synthetic study: could the raters tell?
        self.calls.setToolTip(
            "Each rater's accuracy (exact 95% CI, binomial test against 50 %) and d' / AUC per synthetic arm"
        )
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(QFont("monospace", 10))
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")

        buttons = QHBoxLayout()
        self.buttons = {}
        for label, tip, slot in (
            ("Export histograms (PNG)…", "One PNG per question, as drawn here", self.export_png),
            ("Export answers (CSV)…", "Every answer with its rater, case, arm, pairing key and time", self.export_csv),
            ("Export analysis (JSON)…", "All the figures below, machine-readable", self.export_json),
            (
                "Export MRMC tables…",
                "The long tables iMRMC / RJafroc / MRMCaov read (mrmc-*.csv, .imrmc where a truth is defined)",
                self.export_mrmc,
            ),
            ("Refresh", "Re-read the study file (raters may still be rating)", self._refresh_or_say),
            ("Lock study", "No answer can be added or changed afterwards", self.lock),
        ):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[label] = button
        buttons.addStretch(1)
        self._lock_button = self.buttons["Lock study"]

        tables = QSplitter(Qt.Orientation.Vertical)
        tables.addWidget(self.calls)
        tables.addWidget(self.table)
        tables.addWidget(self.tests)
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(tables)
        upper.addWidget(self.plots)
        upper.setSizes([720, 560])
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(upper)
        lower.addWidget(self.text)
        lower.setSizes([380, 320])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(lower, 1)
        self.analysis: StudyAnalysis | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the study; a tampered (``seal``) or damaged one raises a FundusViewerError."""
        with StudyFile(self.study_path, readonly=True) as study, reading(self.study_path):
            study.check_seal()
            self.analysis = analyze_study(study)
            self.locked = study.locked
        self._lock_button.setEnabled(not self.locked)
        self._fill_table()
        self._fill_tests()
        self._fill_calls()
        self._draw_histograms()
        self.text.setPlainText(format_text(self.analysis))

    def _fill_table(self) -> None:
        headers = ["question", "arm", "n", "mean", "SD", "median"]
        rows = self.analysis.summaries
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(rows))
        for r, s in enumerate(rows):
            for c, value in enumerate(
                [s.question, s.arm, str(s.n), format_number(s.mean), format_number(s.sd), format_number(s.median, 1)]
            ):
                item = QTableWidgetItem(value)
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def _fill_tests(self) -> None:
        headers = [
            "question",
            "arms (a vs b)",
            "mean a - b (95% CI)",
            "Student p",
            "Welch p",
            "Mann-Whitney p",
            "paired t p",
            "Wilcoxon p",
            "Cohen's d (95% CI)",
        ]
        rows = self.analysis.comparisons
        self.tests.setColumnCount(len(headers))
        self.tests.setHorizontalHeaderLabels(headers)
        self.tests.setRowCount(len(rows))
        for r, c in enumerate(rows):
            paired = c.paired
            values = [
                c.question,
                f"{c.arm_a} vs {c.arm_b}",
                f"{format_number(c.mean_difference)} "
                f"({format_number(c.difference_ci95[0])} to {format_number(c.difference_ci95[1])})",
                format_p(c.student_p),
                format_p(c.welch_p),
                format_p(c.mann_whitney_p),
                format_p(paired.p) if paired else "-",
                format_p(paired.wilcoxon_p) if paired else "-",
                f"{format_number(c.cohen_d)} "
                f"({format_number(c.cohen_d_ci95[0])} to {format_number(c.cohen_d_ci95[1])})",
            ]
            for col, value in enumerate(values):
                self.tests.setItem(r, col, QTableWidgetItem(value))
        self.tests.resizeColumnsToContents()

    def _fill_calls(self) -> None:
        result = self.analysis.discrimination
        self.calls.setVisible(result is not None)
        if result is None:
            return
        headers = ["rater", "arm", "correct", "accuracy (95% CI)", "p vs 50 %", "d'", "AUC"]
        sensitivity = {(s.rater, s.arm): s for s in result.sensitivity}
        self.calls.setColumnCount(len(headers))
        self.calls.setHorizontalHeaderLabels(headers)
        self.calls.setRowCount(len(result.accuracy))
        for r, a in enumerate(result.accuracy):
            s = sensitivity.get((a.rater, a.arm))
            values = [
                a.rater,
                a.arm,
                f"{a.correct} of {a.n}",
                f"{a.accuracy:.1%} ({a.ci95[0]:.1%} to {a.ci95[1]:.1%})",
                format_p(a.p_vs_chance),
                format_number(s.d_prime) if s else "",
                format_number(s.auc) if s else "",
            ]
            for c, value in enumerate(values):
                self.calls.setItem(r, c, QTableWidgetItem(value))
        self.calls.resizeColumnsToContents()

    def _draw_histograms(self) -> None:
        self.plots.clear()
        self.plot_items, self.plot_groups = {}, {}
        for row, question in enumerate(self.analysis.questions):
            summaries = [s for s in self.analysis.summaries if s.question == question]
            # the plot and, beside it, its legend (inside, it covered the tallest bars): one group, which
            # export_png writes whole
            group = self.plots.addLayout(row=row, col=0)
            plot = group.addPlot(row=0, col=0, title=f"{question}: answers per score")
            legend = pg.LegendItem(labelTextColor="#444")
            group.addItem(legend, row=0, col=1)
            legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # its entries' size, on top
            group.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop)
            plot.setLabel("bottom", "score")
            plot.setLabel("left", "answers")
            width = 0.8 / max(1, len(summaries))
            for i, s in enumerate(summaries):
                x = [score + (i - (len(summaries) - 1) / 2) * width for score in range(1, len(s.histogram) + 1)]
                bars = pg.BarGraphItem(
                    x=x,
                    height=s.histogram,
                    width=width,
                    brush=COLOURS[i % len(COLOURS)],
                    name=f"{s.arm} (mean {format_number(s.mean)})",
                )
                plot.addItem(bars)
                legend.addItem(bars, bars.opts["name"])
            tallest = max((max(s.histogram) for s in summaries), default=1)
            plot.setYRange(0, tallest * 1.05, padding=0)
            plot.getAxis("bottom").setTicks(
                [[(v, str(v)) for v in range(1, len(summaries[0].histogram) + 1)]] if summaries else None
            )
            self.plot_items[question] = plot
            self.plot_groups[question] = group

    # -- exports ----------------------------------------------------------------------------------
    def export_png(self, folder: str | None = None) -> list[Path]:
        folder = folder or dialogs.open_folder(self, "export", "Folder for the histogram PNGs", near=self.study_path)
        if not folder:
            return []
        written = []
        for question, group in self.plot_groups.items():
            path = Path(folder) / f"histogram-{question}.png"
            exporter = pg.exporters.ImageExporter(group)
            exporter.parameters()["width"] = 900
            exporter.export(str(path))
            written.append(path)
        return written

    def _checked_study(self) -> StudyFile:
        """The study re-opened for an export, refused as the analysis is if tampered with since it was shown."""
        study = StudyFile(self.study_path, readonly=True)
        try:
            with reading(self.study_path):
                study.check_seal()
        except FundusViewerError:
            study.close()
            raise
        return study

    def export_csv(self, path: str | None = None) -> None:
        path = path or dialogs.save_file(
            self, "export", "Export answers", "answers.csv", "CSV (*.csv)", near=self.study_path
        )
        if not path:
            return
        try:
            with self._checked_study() as study, reading(self.study_path):
                write_answers_csv(study, Path(path))
        except (OSError, FundusViewerError) as exc:
            QMessageBox.critical(self, "Answers not written", f"{path}: {getattr(exc, 'strerror', None) or exc}")

    def export_mrmc(self, folder: str | None = None) -> list[Path]:
        from fundus_viewer.core.study.mrmc import write_mrmc

        folder = folder or dialogs.open_folder(self, "export", "Folder for the MRMC tables", near=self.study_path)
        if not folder:
            return []
        try:
            with self._checked_study() as study, reading(self.study_path):
                written = write_mrmc(study, folder)
        except (OSError, FundusViewerError) as exc:
            QMessageBox.critical(self, "MRMC tables not written", f"{folder}: {getattr(exc, 'strerror', None) or exc}")
            return []
        QMessageBox.information(self, "MRMC tables written", "\n".join(p.name for p in written))
        return written

    def export_json(self, path: str | None = None) -> None:
        path = path or dialogs.save_file(
            self, "export", "Export analysis", "analysis.json", "JSON (*.json)", near=self.study_path
        )
        if path and self.analysis is not None:  # none shown after a refresh that failed
            write_json(self.analysis, Path(path))

    def lock(self) -> None:
        answer = QMessageBox.question(
            self, "Lock study", "Lock this study? No rater can add or change an answer afterwards."
        )
        if answer == QMessageBox.StandardButton.Yes:
            try:
                with StudyFile(self.study_path) as study:
                    study.check_seal()
                    digest = study.lock()
            except FundusViewerError as exc:
                QMessageBox.critical(self, "Study not locked", str(exc))
                return
            QMessageBox.information(self, "Study locked", f"Seal digest (keep it to check the lock later):\n{digest}")
            self._refresh_or_say()

    def _refresh_or_say(self) -> None:
        try:
            self.refresh()
        except FundusViewerError as exc:
            # figures of a file now refused must not stay up as if they were its analysis
            self.analysis = None
            for table in (self.table, self.tests, self.calls):
                table.setRowCount(0)
            self.plots.clear()
            self.plot_items, self.plot_groups = {}, {}
            self.text.clear()
            QMessageBox.critical(self, "Cannot analyse the study", str(exc))
