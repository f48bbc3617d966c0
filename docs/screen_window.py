"""The review window for the screenshot scripts: started with the bundled models, and waited on."""

from __future__ import annotations

import time


class ScreenWindow:
    def __init__(self, width: int = 1500, height: int = 900):
        from PySide6.QtWidgets import QApplication

        from fundus_viewer.gui.main_window import MainWindow

        self.app = QApplication.instance() or QApplication([])
        self.window = MainWindow()
        self.window.resize(width, height)
        self.window.show()
        self.wait(lambda: "·" in self.window.device_label.text())  # the model has loaded

    def wait(self, condition, seconds: float = 180.0) -> None:
        end = time.perf_counter() + seconds
        while not condition():
            self.app.processEvents()
            time.sleep(0.005)
            if time.perf_counter() > end:
                raise TimeoutError("the window did not answer")

    def settle(self) -> None:
        """Events for half a second: redraws and tile renders reach the screen."""
        for _ in range(25):
            self.app.processEvents()
            time.sleep(0.02)

    def open_photo(self, photo: str) -> None:
        self.window.open_photo(photo)
        self.wait(lambda: self.window.cup_disc is not None)
        self.settle()
