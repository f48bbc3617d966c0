"""The study screens an owner uses: the Analysis view and its exports, the New study dialog, the menu."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from fundus_viewer.core.study.store import NewCase, StudyFile
from fundus_viewer.gui.study_analysis import AnalysisWindow
from fundus_viewer.gui.study_dialogs import CreateStudyDialog
from tests.test_study import paper_shaped_scores, write_arm


@pytest.fixture
def paper_study(tmp_path):
    scores = paper_shaped_scores()
    tiny = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    cases = [
        NewCase(tiny, arm, f"{arm}-{i}.png", pair_key=str(i)) for arm in ("patho-gan", "baseline") for i in range(120)
    ]
    path = tmp_path / "paper.fvstudy"
    with StudyFile.create(path, cases, seed=0) as study:
        for row in study.case_table():
            for question in ("rl", "rnfld"):
                study.answer(
                    "ophthalmologist", row["case_id"], question, scores[row["arm"], question][int(row["pair_key"])]
                )
    return path


def test_analysis_view_shows_the_figures_and_exports_them(qtbot, paper_study, tmp_path, monkeypatch):
    window = AnalysisWindow(paper_study)
    qtbot.addWidget(window)
    assert window.table.rowCount() == 4
    cells = {
        (window.table.item(r, 0).text(), window.table.item(r, 1).text()): window.table.item(r, 3).text()
        for r in range(4)
    }
    assert cells == {
        ("rl", "baseline"): "3.90",
        ("rl", "patho-gan"): "4.19",
        ("rnfld", "baseline"): "2.05",
        ("rnfld", "patho-gan"): "3.14",
    }
    assert "Student t" in window.text.toPlainText() and "Wilcoxon" in window.text.toPlainText()
    pngs = window.export_png(str(tmp_path))
    assert [p.name for p in pngs] == ["histogram-rl.png", "histogram-rnfld.png"]
    assert all(cv2.imread(str(p)) is not None and cv2.imread(str(p)).shape[1] == 900 for p in pngs)
    window.export_csv(str(tmp_path / "answers.csv"))
    with open(tmp_path / "answers.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 480
    window.export_json(str(tmp_path / "analysis.json"))
    assert len(json.loads((tmp_path / "analysis.json").read_text())["comparisons"]) == 2
    monkeypatch.setattr(QMessageBox, "information", lambda *a: None)
    tables = window.export_mrmc(str(tmp_path / "mrmc"))
    assert [p.name for p in tables] == ["mrmc-rl.csv", "mrmc-rnfld.csv"]
    assert len((tmp_path / "mrmc" / "mrmc-rl.csv").read_text().splitlines()) == 1 + 240


def two_arm_dialog(qtbot, tmp_path, monkeypatch, first: str, second: str) -> CreateStudyDialog:
    """The New study dialog with two arms of two images each and its file name filled in."""
    monkeypatch.setattr(QMessageBox, "information", lambda *a: None)
    dialog = CreateStudyDialog()
    qtbot.addWidget(dialog)
    dialog.add_arm(str(write_arm(tmp_path / "a", "x", 2)), first)
    dialog.add_arm(str(write_arm(tmp_path / "b", "y", 2, seed=4)), second)
    dialog.out.setText(str(tmp_path / "new.fvstudy"))
    return dialog


def test_new_study_dialog_creates_a_study(qtbot, tmp_path, monkeypatch):
    dialog = two_arm_dialog(qtbot, tmp_path, monkeypatch, "real", "synthetic")
    dialog.repeats.setValue(1)
    dialog.size.setValue(128)
    dialog.create()
    assert dialog.created == tmp_path / "new.fvstudy"
    with StudyFile(dialog.created) as study:
        assert study.arms() == ["real", "synthetic"] and len(study.case_ids()) == 5


def test_new_study_dialog_reports_a_bad_regex(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    dialog = CreateStudyDialog()
    qtbot.addWidget(dialog)
    dialog.add_arm(str(write_arm(tmp_path / "a", "x", 1)), "real")
    dialog.out.setText(str(tmp_path / "new.fvstudy"))
    dialog.pair_by.setText("(unclosed")
    dialog.create()
    assert shown and "regular expression" in shown[0] and not (tmp_path / "new.fvstudy").exists()


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_study_menu_reports_a_file_that_is_not_a_study(qtbot, tiny_checkpoint, tmp_path, monkeypatch, paper_study):
    from fundus_viewer.gui.main_window import MainWindow

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    window = MainWindow(str(tiny_checkpoint), "cpu")
    qtbot.addWidget(window)
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Study" in titles
    bogus = tmp_path / "photo.fvstudy"
    bogus.write_bytes(b"\x89PNG not a study")
    assert window.rate_study(str(bogus), "ann") is None
    assert window.analyse_study(str(bogus)) is None
    assert len(shown) == 2 and all("not a study file" in s for s in shown)
    analysis = window.analyse_study(str(paper_study))
    assert analysis is not None and analysis.table.rowCount() == 4
    analysis.close()
    window.close()


def test_new_study_dialog_makes_a_real_or_synthetic_study_with_calibration(qtbot, tmp_path, monkeypatch):
    dialog = two_arm_dialog(qtbot, tmp_path, monkeypatch, "photos", "patho-gan")
    calibration = write_arm(tmp_path / "cal", "cal", 1, seed=8)
    (calibration / "reference.csv").write_text("file,call\ncal_00.png,real\n")
    dialog.size.setValue(128)
    dialog.task.setCurrentIndex(dialog.task.findData("real-or-synthetic"))
    assert dialog.real_arm.isEnabled() and not dialog.confidence.isEnabled()
    dialog.real_arm.setText("photos")
    dialog.calibration.setText(str(calibration))
    dialog.create()
    with StudyFile(dialog.created) as study:
        assert (
            study.task == "real-or-synthetic"
            and study.settings["real_arm"] == "photos"
            and len(study.calibration_ids()) == 1
        )


@pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")
def test_rating_a_rater_copy_from_the_menu_asks_no_name(qtbot, tiny_checkpoint, tmp_path, monkeypatch, paper_study):
    from fundus_viewer.core.study.rater_copy import make_rater_copy
    from fundus_viewer.gui import study_dialogs
    from fundus_viewer.gui.main_window import MainWindow

    monkeypatch.setattr(study_dialogs, "ask_rater_name", lambda parent: pytest.fail("a rater copy knows its rater"))
    with StudyFile(paper_study) as study:
        copy = make_rater_copy(study, "dr-bob", tmp_path / "bob.fvstudy")
    window = MainWindow(str(tiny_checkpoint), "cpu")
    qtbot.addWidget(window)
    rating = window.rate_study(str(copy))
    assert rating is not None and rating.session.rater == "dr-bob"
    rating.close()
    window.close()
