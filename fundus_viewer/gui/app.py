"""Starting the desktop app: the window first, the model behind it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def run_app(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="fundus-viewer", description="Open the Fundus Viewer app.")
    parser.add_argument("photo", nargs="?", help="a photo to open")
    parser.add_argument("--model", help="classifier checkpoint; default: the bundled one")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from fundus_viewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("FundusViewer")
    app.setApplicationName("Fundus Viewer")
    _log_to_file()
    window = MainWindow(args.model, args.device)
    window.show()
    if args.photo:
        window.open_photo(Path(args.photo))
    return app.exec()


def _log_to_file() -> None:
    """A GUI script has no console: log to the user's log folder."""
    from platformdirs import user_log_dir

    folder = Path(user_log_dir("fundus-viewer", "FundusViewer"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(filename=folder / "fundus-viewer.log", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    except OSError:
        logging.basicConfig(level=logging.INFO)
