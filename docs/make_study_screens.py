"""Screenshots of the New study dialog, the real-or-synthetic rating screen and its analysis, on the
bundled samples.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_study_screens.py docs/

The "synthetic" arm here is the samples again: the screens show what a rater and the owner see,
nothing about any generator. The answers in the analysis are made up.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def settle(app, seconds=0.6):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.02)


def main(out: str) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from fundus_viewer.core.images import list_images
    from fundus_viewer.core.study.create import create_study
    from fundus_viewer.core.study.questions import CALL, CONFIDENCE
    from fundus_viewer.core.study.store import RatingSession, StudyFile
    from fundus_viewer.gui.rating_window import RatingWindow
    from fundus_viewer.gui.study_analysis import AnalysisWindow
    from fundus_viewer.gui.study_dialogs import CreateStudyDialog

    app = QApplication.instance() or QApplication([])
    samples = list_images(ROOT / "resources" / "samples")
    dialog = CreateStudyDialog()
    dialog.add_arm("/data/photos", "real")
    dialog.add_arm("/data/out/pathogan", "patho-gan")
    dialog.add_arm("/data/out/baseline", "baseline")
    dialog.out.setText("/data/studies/real-or-synthetic.fvstudy")
    dialog.task.setCurrentIndex(dialog.task.findData("real-or-synthetic"))
    dialog.calibration.setText("/data/calibration")
    dialog.show()
    settle(app)
    dialog.grab().save(str(Path(out) / "study-dialog.png"))
    dialog.close()
    path = Path(tempfile.mkdtemp()) / "real-or-synthetic.fvstudy"
    create_study(
        path,
        {"real": samples[:3], "patho-gan": samples[3:]},
        size=512,
        task="real-or-synthetic",
        title="Real or synthetic?",
    ).close()
    with StudyFile(path) as study:
        window = RatingWindow(RatingSession(study, "Dr A"))
        window.resize(1500, 900)
        window.show()
        settle(app)
        QTest.keyClick(window, "2")  # synthetic ...
        QTest.keyClick(window, Qt.Key.Key_Tab)  # ... then how sure
        settle(app)
        window.grab().save(str(Path(out) / "study-real-or-synthetic.png"))
        window.close()
        arm = {c["case_id"]: c["arm"] for c in study.case_table()}
        for rater, right in (("Dr A", 1.0), ("Dr B", 0.5)):
            for i, case in enumerate(study.order(rater)):
                correct = (i % 2 == 0) or right == 1.0
                synthetic = (arm[case] != "real") == correct
                study.answer(rater, case, CALL.key, 2 if synthetic else 1, seconds_on_case=4.0 + i)
                study.answer(rater, case, CONFIDENCE.key, 3 if right == 1.0 else 1, seconds_on_case=6.0 + i)
    analysis = AnalysisWindow(path)
    analysis.resize(1300, 820)
    analysis.show()
    settle(app)
    analysis.grab().save(str(Path(out) / "study-real-or-synthetic-analysis.png"))
    print(f"wrote {out}/study-dialog.png, study-real-or-synthetic.png and study-real-or-synthetic-analysis.png")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
