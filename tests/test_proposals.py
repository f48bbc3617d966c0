"""Boxes proposed from the maps: regions of a known map, a file that is never ground truth, and
accept / reject / undo through the window's own actions and keys."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from fundus_viewer.core.boxes import load_coco
from fundus_viewer.core.errors import BoxesError
from fundus_viewer.core.proposals import propose_boxes, threshold_of, write_proposals_coco
from tests.test_review import folder, open_and_wait, window  # noqa: F401 - the review window's fixtures


def two_blobs():
    heat = np.zeros((400, 600), np.float32)
    heat[50:380, 20:500] = 0.05  # a faint haze over much of the photo, as maps have
    heat[100:150, 200:280] = 1.0  # 50 x 80: the stronger region
    heat[300:330, 50:90] = 0.9
    return heat


def test_a_map_with_two_regions_gives_their_boxes_strongest_first():
    first, second = propose_boxes(two_blobs(), "RL")
    assert first.rect == pytest.approx((200, 100, 80, 50), abs=2.5) and second.rect == pytest.approx(
        (50, 300, 40, 30), abs=2.5
    )
    heat = two_blobs()
    assert (
        first.heat_share == pytest.approx(heat[100:150, 200:280].sum() / heat.sum(), abs=0.01) and first.label == "RL"
    )
    assert "Otsu" in first.origin
    [only] = propose_boxes(
        two_blobs(), "RNFLD", "percentile", 97
    )  # above 0.9: the strong region only (4000 of 158,400 pixels)
    assert only.rect == pytest.approx((200, 100, 80, 50), abs=2.5)
    assert propose_boxes(np.zeros((50, 50)), "RL") == []
    with pytest.raises(ValueError):
        threshold_of(np.ones(3), "banana")


def test_a_proposal_file_is_refused_as_ground_truth(tmp_path):
    path = write_proposals_coco(
        {"eye.png": ((600, 400), propose_boxes(two_blobs(), "RL"))}, tmp_path / "proposals.json"
    )
    with pytest.raises(BoxesError, match="2 box proposal"):
        load_coco(path)


@pytest.fixture
def planted(monkeypatch):
    """The window's proposals made from the two-region map (RL) and none (RNFLD), whatever the photo's maps."""
    from fundus_viewer.gui import proposal_actions

    heat = two_blobs()
    monkeypatch.setattr(
        proposal_actions,
        "propose_boxes",
        lambda _map, label, *a, **k: propose_boxes(heat, label, *a, **k) if label == "RL" else [],
    )


@pytest.mark.usefixtures("planted")
def test_accept_reject_and_undo_in_the_window(qtbot, window, folder):  # noqa: F811
    open_and_wait(qtbot, window, folder / "a-eye.png")
    controller = window.annotations
    proposals = controller.proposals
    assert proposals.propose_from_maps() == 2
    assert controller.store is None or controller.store.boxes("a-eye.png") == []  # shown, nothing written
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_A)  # accept the strongest
    [box] = controller.store.boxes("a-eye.png")
    assert (box.label, round(box.x), round(box.y)) == ("RL", 200, 100) and box.annotator == "dr-ann"
    assert "Otsu" in controller.store.origin(box.box_id) and len(proposals.layer.proposals) == 1
    qtbot.keyClick(window, Qt.Key.Key_X)  # reject the other
    assert proposals.layer.proposals == [] and len(controller.store.boxes("a-eye.png")) == 1
    controller.undo.trigger()  # the rejection comes back
    assert len(proposals.layer.proposals) == 1
    controller.undo.trigger()  # the accepted box goes, its proposal returns
    assert controller.store.boxes("a-eye.png") == [] and len(proposals.layer.proposals) == 2
    assert controller.store.origin(box.box_id) is None  # the undone box took its origin with it
    controller.redo.trigger()
    assert len(controller.store.boxes("a-eye.png")) == 1 and box.box_id in controller.layer.items


@pytest.mark.usefixtures("planted")
def test_proposing_again_leaves_the_older_commands_harmless(qtbot, window, folder):  # noqa: F811
    open_and_wait(qtbot, window, folder / "a-eye.png")
    controller = window.annotations
    proposals = controller.proposals
    proposals.propose_from_maps()
    proposals.reject_current()
    assert proposals.propose_from_maps() == 2  # the same two again, equal in value
    controller.undo.trigger()  # the old rejection: nothing of the new set moves
    assert len(proposals.layer.proposals) == 2 and len(proposals.layer.items) == 2
    controller.redo.trigger()
    assert len(proposals.layer.proposals) == 2
    proposals.accept_current()
    proposals.propose_from_maps()  # a new set, then the accept undone: the box goes, the new set stays
    controller.undo.trigger()
    assert controller.store.boxes("a-eye.png") == [] and len(proposals.layer.proposals) == 2 == len(
        proposals.layer.items
    )
