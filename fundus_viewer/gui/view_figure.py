"""File ▸ Export view as PNG…, mixed into the main window: what the screen shows, as the core's figure
(``core.figure``): the photo at its own resolution with the map(s) on screen, the outlines and boxes
shown, and a caption saying how it was made. The window only gathers what is on screen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from fundus_viewer.gui import dialogs


class ViewFigureMixin:
    def export_view(self, path: str | None = None) -> Path | None:
        if self.photo is None:
            return None
        name = f"{Path(self.photo.name).stem}.view.png"
        path = path or dialogs.save_file(self, "export", "Export view", name, "PNG (*.png)")
        if not path:
            return None
        from fundus_viewer.core.figure import make_figure, write_figure

        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # a 12 MP figure takes a few seconds
        try:
            maps = self.maps_for_figure()
            figure = make_figure(maps, self.names_on_screen(), **self.figure_facts(maps))
            write_figure(figure, path)
        except OSError as exc:
            QMessageBox.warning(self, "Export view", f"Could not write {path}: {exc.strerror or exc}")
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self.statusBar().showMessage(f"Saved {path}", 6000)
        return Path(path)

    def maps_for_figure(self):
        """The photo's maps at the panel's thresholds; before its analysis, the bare photo."""
        maps = self.current_maps()
        if maps is None:
            from fundus_viewer.core.visualization.maps import PhotoMaps

            maps = PhotoMaps(self.photo, {}, self.panel.thresholds_object())
        return maps

    def names_on_screen(self) -> list[str]:
        """The map names (as ``PhotoMaps`` keys them) of what the view(s) show, left to right."""
        from fundus_viewer.core.methods import Pathology

        choice = self.panel.pathology.currentData()
        side_by_side = self.panel.side_by_side.isChecked()
        pathology = side_by_side or choice in ("rl", "rnfld")
        if self.analysis is None or (pathology and self.panel.no_layer_ticked()):
            return []  # no map on screen
        if side_by_side:
            return [Pathology.RL.map_name, Pathology.RNFLD.map_name]
        return [Pathology.parse(choice).map_name if pathology else choice]

    def figure_facts(self, maps) -> dict:
        """What the caption says besides the maps, and the marks drawn, as on screen; the call as the
        window makes it (``call_facts``), never recomputed from the rounded P."""
        from fundus_viewer.core.figure import call_facts

        loaded = self.model_loaded
        shown = self.cup_disc is not None and self.outline_action.isChecked()
        return {
            **(call_facts(loaded.model, maps) if loaded is not None else {}),
            "colormap": self.panel.colormap.currentText(),
            "opacity": self.panel.opacity.value(),
            "vcdr": self.cup_disc.vcdr if self.cup_disc is not None else None,
            "outlines": self.cup_disc.outlines if shown else None,
            "boxes": [(i.box.label, (i.box.x, i.box.y, i.box.w, i.box.h)) for i in self.view.boxes.items.values()],
            "model_sha256": loaded.digest if loaded is not None else None,
            "display": self.view.display_settings,  # red-free, brightness...: the photo as it looks
        }
