"""Where the app's errors go when there is no console (a gui-script): a log file under the user's log
folder (platformdirs) and an excepthook that logs any uncaught exception and tells the user, in a
dialog, what happened and where the details are, instead of a traceback nobody sees."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

_installed: dict = {}


def log_path() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir("fundus-viewer", "FundusViewer")) / "fundus-viewer.log"


def log_to_file() -> Path | None:
    """Send logging to the user's log file (rotating, 1 MB x 3); None where the folder cannot be made."""
    from logging.handlers import RotatingFileHandler

    path = log_path()
    root = logging.getLogger()
    if any(isinstance(h, RotatingFileHandler) for h in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        logging.basicConfig(level=logging.INFO)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def install_excepthook() -> None:
    """Uncaught exceptions (GUI thread or any other) are logged and shown, and the app goes on.
    Called on the GUI thread, once a QApplication exists."""
    if _installed.get("reporter") is not None:
        return
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QMessageBox

    class Reporter(QObject):
        # emitted from any thread, delivered in the GUI thread, where a dialog may be shown
        report = Signal(str)

    reporter = Reporter()
    reporter.report.connect(
        lambda text: QMessageBox.critical(QApplication.activeWindow(), "Something went wrong", text)
    )
    _installed["reporter"] = reporter
    sys.excepthook = _handle
    threading.excepthook = lambda args: _handle(args.exc_type, args.exc_value, args.exc_traceback)


def _handle(kind: type[BaseException], value: BaseException | None, traceback: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    logging.getLogger("fundus_viewer").error("uncaught exception", exc_info=(kind, value, traceback))
    _installed["reporter"].report.emit(
        f"{kind.__name__}: {value}\n\nNothing you saved is lost. The details are in the log:\n{log_path()}"
    )
