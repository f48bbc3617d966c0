"""File ▸ Save report…: the photo on screen as one self-contained HTML report (``core.report``), with the
maps at the panel's thresholds, the baselines computed so far and the cup-to-disc measurement. A folder's
report is ``fundus-viewer report FOLDER --out report.html`` (every photo analysed, which takes a while)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from fundus_viewer.gui.main_window import MainWindow


def save_report(window: MainWindow, path: str | None = None) -> Path | None:
    """Write the report of the photo on screen to ``path`` (asked for when None); the path written."""
    from fundus_viewer.core.atomic import write_error_text
    from fundus_viewer.core.report import photo_entry, report_context, write_report
    from fundus_viewer.gui import dialogs

    maps = window.current_maps()
    if maps is None:
        QMessageBox.information(window, "Save report", "Open a photo and wait for its maps first.")
        return None
    stem = Path(window.photo.name).stem
    path = path or dialogs.save_file(window, "export", "Save report", f"{stem}.report.html", "HTML (*.html)")
    if not path:
        return None
    loaded, panel = window.model_loaded, window.panel
    colormap = panel.colormap.currentText()
    entry = photo_entry(maps, loaded.model, window.cup_disc, colormap, panel.opacity.value())
    context = report_context(
        entry.name, loaded.model, maps.model["layers"], maps.thresholds, colormap, loaded.digest or None
    )
    try:
        written = write_report(path, [entry], context, table=False)
    except OSError as exc:
        QMessageBox.warning(window, "Save report", f"Could not write the report: {write_error_text(exc)}")
        return None
    window.statusBar().showMessage(f"Saved the report of {entry.name} in {written}", 6000)
    return written
