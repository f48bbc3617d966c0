"""The Train panel: runs ``fundus-train gan`` as a separate process, shows its phase and progress (its
``--progress json`` lines), draws its losses live from the run's log.csv, shows the latest sample grid,
and stops and resumes it (from its last checkpoint)."""

from __future__ import annotations

import csv
import shlex
import sys
from collections import deque
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QProcess, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fundus_viewer.core.progress import parse as parse_progress
from fundus_viewer.gui.dialogs import open_file, open_folder
from fundus_viewer.gui.run_progress import RunProgress

CURVES = {"g_adv": "#1f77b4", "g_patho": "#d62728", "g_l1": "#2ca02c", "d_loss": "#ff7f0e"}


class GanTrainPanel(QWidget):
    finished = Signal(int)  # exit code

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Patho-GAN — train")
        self.data = QLineEdit(placeholderText="manifest CSV or class folders (glaucoma/, normal/)")
        self.out = QLineEdit(placeholderText="run folder: log.csv, samples/, last.pt, generator.safetensors")
        self.preset = QComboBox()
        self.preset.addItems(["laptop", "paper"])
        self.lam = QDoubleSpinBox(
            maximum=1e6, value=1000.0, decimals=1, toolTip="L_patho weight; 0 trains the paper's baseline"
        )
        self.pathology = QComboBox()
        self.pathology.addItems(["both", "rl", "rnfld"])
        self.steps = QSpinBox(maximum=10_000_000, toolTip="0: the preset's number of steps")
        self.extra = QLineEdit(placeholderText="more options, e.g. --size 128 --classifier my.safetensors")
        form = QFormLayout()
        for label, widget, browse in (("Data", self.data, "file"), ("Run folder", self.out, "dir")):
            row = QHBoxLayout()
            row.addWidget(widget, 1)
            button = QPushButton("…")
            button.clicked.connect(lambda _c=False, w=widget, kind=browse: self._browse(w, kind))
            row.addWidget(button)
            form.addRow(label, row)
        form.addRow("Preset", self.preset)
        form.addRow("λ (lambda)", self.lam)
        form.addRow("Pathology", self.pathology)
        form.addRow("Steps", self.steps)
        form.addRow("Options", self.extra)
        self.start_button, self.stop_button, self.resume_button = (
            QPushButton("Start"),
            QPushButton("Stop"),
            QPushButton("Resume"),
        )
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.plot = pg.PlotWidget(title="losses per step (log scale: L_patho is orders of magnitude below the others)")
        self.plot.setLogMode(y=True)
        self.plot.addLegend()
        self.lines = {
            name: self.plot.plot([], [], pen=pg.mkPen(colour, width=1.5), name=name) for name, colour in CURVES.items()
        }
        self.progress = RunProgress()
        self.sample = QLabel("the latest sample grid appears here (vessel map / real / synthetic)")
        self.sample.setMinimumHeight(200)
        self.output = QPlainTextEdit(readOnly=True, maximumBlockCount=500)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.sample, 2)
        layout.addWidget(self.output, 1)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        # what runs the trainer (a test gives a script that plays one); the command's arguments follow
        self.program = [sys.executable, "-m", "trainer"]
        self._partial = ""  # output after its last line break: the rest of that line is still to come
        self._tail: deque[str] = deque(maxlen=6)  # the last lines of output, shown when the run fails
        self._stopping = False
        self.timer = QTimer(self, interval=1000, timeout=self.refresh)
        self._update_buttons()

    def _browse(self, widget: QLineEdit, kind: str) -> None:
        # where the field's path is, else where the last GAN data or run folder was chosen
        near = widget.text().strip() or None
        path = (
            open_folder(self, "gan", "Run folder", near)
            if kind == "dir"
            else open_file(self, "gan", "Manifest", "CSV (*.csv);;All files (*)", near)
        )
        if path:
            widget.setText(path)

    def command(self, resume: bool) -> list[str]:
        args = [
            "gan",
            "--data",
            self.data.text().strip(),
            "--out",
            self.out.text().strip(),
            "--preset",
            self.preset.currentText(),
            "--lambda",
            f"{self.lam.value():g}",
            "--pathology",
            self.pathology.currentText(),
        ]
        if self.steps.value():
            args += ["--steps", str(self.steps.value())]
        args += shlex.split(self.extra.text())
        return args + (["--resume"] if resume else [])

    def start(self, resume: bool = False) -> bool:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            return False
        if not self.data.text().strip() or not self.out.text().strip():
            self.output.appendPlainText("Choose the data and a run folder first.")
            return False
        if getattr(sys, "frozen", False):
            self.output.appendPlainText(
                "Training runs from a Python installation: pip install fundus-viewer, "
                "then fundus-train gan (the command below)."
            )
            self.output.appendPlainText("fundus-train " + shlex.join(self.command(resume)))
            return False
        command = self.command(resume)
        self.output.appendPlainText("$ fundus-train " + shlex.join(command))
        self._partial, self._stopping = "", False
        self._tail.clear()
        self.progress.started()
        self.process.start(self.program[0], [*self.program[1:], *command, "--progress", "json"])
        self.timer.start()
        self._update_buttons()
        return True

    def stop(self) -> None:
        """Ends the trainer; its last checkpoint (every --checkpoint-every steps) stays for Resume."""
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self._stopping = True
            self.progress.phase.setText("Stopping…")
            self.process.terminate()
            if not self.process.waitForFinished(10000):
                self.process.kill()
                self.process.waitForFinished(5000)

    def refresh(self) -> None:
        out = Path(self.out.text().strip())
        log = out / "log.csv"
        if log.exists():
            with log.open(newline="") as stream:
                rows = list(csv.DictReader(stream))
            steps = [int(r["step"]) for r in rows]
            for name, line in self.lines.items():
                points = [
                    (s, float(r[name])) for s, r in zip(steps, rows, strict=True) if r.get(name) not in (None, "")
                ]
                line.setData([p[0] for p in points], [p[1] for p in points])
        samples = sorted((out / "samples").glob("step-*.png")) if (out / "samples").is_dir() else []
        if samples:
            image = QImage(str(samples[-1]))
            if not image.isNull():
                self.sample.setPixmap(QPixmap.fromImage(image).scaledToHeight(max(200, self.sample.height())))
                self.sample.setToolTip(samples[-1].name)

    def _read_output(self) -> None:
        text = self._partial + bytes(self.process.readAllStandardOutput()).decode(errors="replace")
        # a read can end inside a line; tqdm redraws its bar with carriage returns: whole lines only
        *lines, self._partial = text.replace("\r", "\n").split("\n")
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        fields = parse_progress(line)
        if fields is not None:
            self.progress.report(fields)
        elif line.strip() and "it/s]" not in line and "s/it]" not in line:
            self.output.appendPlainText(line)
            self._tail.append(line)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self.timer.stop()
        self._line(self._partial)
        self._partial = ""
        self.refresh()
        if self._stopping:
            # Stop's terminate() ends the trainer with SIGTERM: its exit status says nothing worth showing
            self.progress.ended(self.progress.stopped_text((Path(self.out.text().strip()) / "last.pt").exists()))
        elif status == QProcess.ExitStatus.NormalExit and code == 0:
            self.progress.ended("Finished", complete=True)
        else:
            if status == QProcess.ExitStatus.NormalExit:
                why = f"exit code {code}"
            else:  # on Unix the code is the signal (9: out of memory, most often)
                why = "the trainer crashed" if sys.platform == "win32" else f"the trainer was killed by signal {code}"
            self.progress.ended(f"Failed ({why})", list(self._tail)[-3:])
        self.output.appendPlainText(f"[{self.progress.phase.text()}]")
        self._stopping = False
        self._update_buttons()
        self.finished.emit(code)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # no finished() follows
            self.timer.stop()
            self.progress.ended(f"Failed to start the trainer: {self.process.errorString()}")
            self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.process.state() != QProcess.ProcessState.NotRunning
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)
