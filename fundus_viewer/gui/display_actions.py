"""The display adjustment in the main window: the View menu's actions and the "Display" dock.

The setting belongs to the session: it stays as photos change (a reader comparing eyes in red-free keeps
red-free), and every start shows photos as they are, so nobody reads a tinted photo without knowing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu

    from fundus_viewer.gui.display_controls import DisplayControls


class DisplayAdjustMixin:
    display_controls: DisplayControls | None = None

    def build_display_actions(self, view_menu: QMenu) -> None:
        from fundus_viewer.gui.display_controls import DISPLAY_ONLY

        self.red_free_action = self._action(
            "&Red-free (green channel)",
            self._red_free_chosen,
            "Ctrl+R",
            f"The green channel as grey, for nerve-fibre layer defects. {DISPLAY_ONLY}",
        )
        self.red_free_action.setCheckable(True)
        self.reset_display_action = self._action(
            "Reset displa&y (brightness, contrast, gamma, colour)",
            self._reset_display_chosen,
            QKeySequence("Ctrl+Shift+D"),
            "Show the photo as it is",
        )
        view_menu.addAction(self.red_free_action)
        view_menu.addAction(self.reset_display_action)

    def _red_free_chosen(self) -> None:
        if self.display_controls is not None:  # the controls come after the first frame: they take it then
            self.display_controls.red_free.setChecked(self.red_free_action.isChecked())

    def _reset_display_chosen(self) -> None:
        if self.display_controls is not None:
            self.display_controls.reset_display()
        else:
            self.red_free_action.setChecked(False)

    def finish_display_controls(self) -> None:
        """The dock's controls (superqt sliders: after the first frame, as the threshold panel)."""
        from fundus_viewer.gui.display_controls import DisplayControls

        self.display_controls = DisplayControls(self)
        self.docks["display"].setWidget(self.display_controls)
        self.display_controls.changed.connect(self.apply_display)
        self.display_controls.red_free.toggled.connect(self.red_free_action.setChecked)
        # Ctrl+R pressed before the controls existed ticked the menu item: the view follows the menu
        self.display_controls.red_free.setChecked(self.red_free_action.isChecked())

    def apply_display(self, settings) -> None:
        for view in (self.view, self.view2):
            if view is not None:
                view.set_display(settings)
