"""A rater's kappa with themselves from a handful of repeated cases carries a caveat, in the Analysis
view and in `fundus-viewer study analyze` (#20 item 12); the histograms' legends cover none of the bars."""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
import pytest

from fundus_viewer.cli.main import main
from fundus_viewer.core.study.stats import MIN_REPEATS_FOR_KAPPA
from fundus_viewer.core.study.store import NewCase, StudyFile
from fundus_viewer.gui.study_analysis import AnalysisWindow

CAVEAT = "not a reliable estimate"


def study_with_repeats(path, repeats: int):
    """30 cases per arm, ``repeats`` of them shown twice; one rater scoring each showing alike but one."""
    tiny = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes()
    cases = [NewCase(tiny, arm, f"{arm}-{i}.png", pair_key=str(i)) for arm in ("a", "b") for i in range(30)]
    cases += [NewCase(tiny, cases[i].arm, cases[i].source, cases[i].pair_key, repeat_of=i) for i in range(repeats)]
    with StudyFile.create(path, cases, seed=0) as study:
        rows = {r["case_id"]: r for r in study.case_table()}
        for n, case in enumerate(study.case_ids()):
            row = rows[rows[case]["repeat_of"]] if rows[case]["repeat_of"] else rows[case]
            score = 1 + int(row["pair_key"]) % 5
            if rows[case]["repeat_of"] and n % 3 == 0:
                score = min(5, score + 1)  # a rater not quite consistent
            for question in ("rl", "rnfld"):
                study.answer("ann", case, question, score)
    return path


@pytest.mark.parametrize(("repeats", "caveat"), [(2, True), (MIN_REPEATS_FOR_KAPPA, False), (25, False)])
def test_a_kappa_from_few_repeats_says_it_is_unreliable(qtbot, tmp_path, capsys, repeats, caveat):
    path = study_with_repeats(tmp_path / "s.fvstudy", repeats)
    window = AnalysisWindow(path)
    qtbot.addWidget(window)
    shown = window.text.toPlainText()
    assert f"ann / rl: {repeats} repeats" in shown and "weighted kappa" in shown
    assert (CAVEAT in shown) is caveat
    if caveat:
        assert f"from only {repeats} repeated cases" in shown
    assert main(["study", "analyze", str(path)]) == 0
    printed = capsys.readouterr().out
    assert f"ann / rl: {repeats} repeats" in printed and (CAVEAT in printed) is caveat


def test_each_histograms_legend_lists_both_arms_and_covers_no_bars(qtbot, tmp_path):
    window = AnalysisWindow(study_with_repeats(tmp_path / "s.fvstudy", 2))
    qtbot.addWidget(window)
    window.resize(1300, 820)
    window.show()
    qtbot.waitExposed(window)
    legends = [item for item in window.plots.scene().items() if isinstance(item, pg.LegendItem)]
    assert len(legends) == len(window.plot_items) == 2  # one per question
    plots = [plot.vb.mapRectToScene(plot.vb.boundingRect()) for plot in window.plot_items.values()]
    for legend in legends:
        assert len(legend.items) == 2  # one entry per arm
        area = legend.mapRectToScene(legend.boundingRect())
        assert all(area.intersected(bars).height() <= 1 for bars in plots)  # over no plot's bars
