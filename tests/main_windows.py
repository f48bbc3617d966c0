"""The review window as the GUI tests open it: tiny model, offscreen, shown, its model loaded."""


def make_window(qtbot, checkpoint, annotator: str | None = "dr-ann"):
    from PySide6.QtCore import QSettings

    from fundus_viewer.gui.main_window import MainWindow

    if annotator is not None:
        QSettings().setValue("annotate/annotator", annotator)
    win = MainWindow(str(checkpoint), "cpu")
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: "alexnet" in win.device_label.text(), timeout=30000)
    return win
