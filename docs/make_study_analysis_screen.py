"""Screenshot of the study owner's Analysis view (docs/study-analysis.png), its report scrolled to the
agreement and consistency figures.

    python docs/make_study_demo.py /tmp/demo.fvstudy
    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_study_analysis_screen.py /tmp/demo.fvstudy OUT.png
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(study: str, out: str) -> None:
    from PySide6.QtGui import QTextCursor
    from PySide6.QtWidgets import QApplication

    from fundus_viewer.gui.study_analysis import AnalysisWindow

    app = QApplication.instance() or QApplication([])
    window = AnalysisWindow(study)
    window.resize(1280, 820)
    window.show()
    text = window.text
    text.moveCursor(QTextCursor.MoveOperation.End)
    found = text.find("inter-rater agreement", text.document().FindFlag.FindBackward)
    if found:
        text.centerCursor()
        cursor = text.textCursor()
        cursor.clearSelection()
        text.setTextCursor(cursor)
    for _ in range(25):  # layout and paint reach the screen
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(out)
    window.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
