"""The review window as a clinician uses it: folder list, boxes (draw, move, undo, redo, reopen),
COCO export / import, baselines on demand, Table 1 for a folder with a known answer, exports."""

from __future__ import annotations

import time

import numpy as np
import pytest
from main_windows import make_window
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from fundus_viewer.core.annotations import AnnotationStore
from fundus_viewer.core.boxes import load_coco

pytestmark = pytest.mark.usefixtures("isolated_settings", "no_dangling_threads")


@pytest.fixture
def folder(tmp_path, make_fundus):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(make_fundus()).save(photos / "a-eye.png")
    Image.fromarray(make_fundus(height=300, width=300, centre=(150, 150), radius=140, seed=3)).save(
        photos / "b-eye.png"
    )
    return photos


@pytest.fixture
def window(qtbot, tiny_checkpoint):
    win = make_window(qtbot, tiny_checkpoint)
    yield win
    win.close()


def open_and_wait(qtbot, window, path):
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        assert window.open_photo(path)


def drag(window, start, end, like_a_hand=False):
    """A real left-button drag on the photo, from and to image pixels (x, y)."""
    view = window.view
    viewport = view.viewport()

    def to_widget(x, y):
        scene = view.viewbox.mapViewToScene(QPointF(x, y))
        return view.mapFromScene(scene)

    a, b = to_widget(*start), to_widget(*end)
    send = lambda kind, pos, button, buttons: QApplication.sendEvent(  # noqa: E731
        viewport,
        QMouseEvent(
            kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier
        ),
    )
    if like_a_hand:  # hovers first, and moves no faster than pyqtgraph's rate limit lets through (100 / s)
        send(QEvent.Type.MouseMove, a, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    send(QEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for t in np.linspace(0, 1, 8)[1:]:
        p = QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y())))
        if like_a_hand:
            time.sleep(0.015)
        send(QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)


def test_folder_list_shows_status_and_probability_and_steps(qtbot, window, folder):
    open_and_wait(qtbot, window, folder)  # a folder opens its first photo
    assert not (folder / "fundus-viewer-annotations.sqlite").exists()  # viewing writes nothing
    assert window.photo.name == "a-eye.png" and window.photos.count() == 2
    assert "P " in window.photos.item(0).text() and window.photos.item(0).text().startswith("○")
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.step_photo(1)
    assert window.photo.name == "b-eye.png"


def test_draw_move_undo_redo_and_reopen(qtbot, tiny_checkpoint, folder):
    window = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, window, folder / "a-eye.png")
    window.annotations.draw_rl.trigger()
    drag(window, (100, 80), (220, 200))
    layer = window.view.boxes
    assert len(layer.items) == 1
    box = next(iter(layer.items.values())).box
    assert box.label == "RL" and box.annotator == "dr-ann"
    assert box.x == pytest.approx(100, abs=3) and box.w == pytest.approx(120, abs=4)
    with AnnotationStore.for_folder(folder) as store:
        assert store.boxes("a-eye.png") == [box]  # on disk the moment it was drawn
    assert window.photos.item(0).text().startswith("◐")

    # move it as the mouse would: the ROI reports a finished change
    item = layer.items[box.box_id]
    item.setPos(QPointF(150, 120))
    moved = layer.items[box.box_id].box
    assert (moved.x, moved.y) == (150, 120)
    window.annotations.draw_rnfld.trigger()
    drag(window, (300, 250), (360, 320))
    assert len(layer.items) == 2
    stack = window.annotations.undo_stack
    assert stack.count() == 3
    stack.undo()  # the RNFLD box goes
    stack.undo()  # the RL box goes back to where it was drawn
    with AnnotationStore.for_folder(folder) as store:
        assert [(b.label, b.x, b.y) for b in store.boxes("a-eye.png")] == [("RL", box.x, box.y)]
    assert layer.items[box.box_id].geometry()[:2] == (box.x, box.y)
    stack.redo()
    stack.redo()
    window.annotations.end_drawing()
    layer.select(box.box_id)
    window.annotations.delete_selected()
    stack.undo()  # the delete is undone: the box is back with its id
    with AnnotationStore.for_folder(folder) as store:
        final = sorted((b.label, round(b.x), round(b.y)) for b in store.boxes("a-eye.png"))
    assert final[0] == ("RL", 150, 120) and final[1][0] == "RNFLD"
    window.annotations.reviewed.trigger()
    assert window.photos.item(0).text().startswith("●")
    window.close()

    again = make_window(qtbot, tiny_checkpoint)
    open_and_wait(qtbot, again, folder / "a-eye.png")
    assert sorted((b.box.label, round(b.box.x), round(b.box.y)) for b in again.view.boxes.items.values()) == final
    assert again.annotations.reviewed.isChecked() and again.photos.item(0).text().startswith("●")
    again.close()


def test_another_annotators_boxes_are_shown_read_only(qtbot, tiny_checkpoint, folder, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    with AnnotationStore.for_folder(folder) as store:
        from fundus_viewer.core.annotations import new_box

        theirs = store.add(new_box("a-eye.png", "RNFLD", 10, 10, 50, 50, "dr-bob"))
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: shown.append(a[2]))
    window = make_window(qtbot, tiny_checkpoint, annotator="dr-ann")
    open_and_wait(qtbot, window, folder / "a-eye.png")
    item = window.view.boxes.items[theirs.box_id]
    assert not item.editable and not item.translatable
    window.view.boxes.select(theirs.box_id)
    window.annotations.delete_selected()
    assert "belongs to dr-bob" in shown[0]
    with AnnotationStore.for_folder(folder) as store:
        assert store.get(theirs.box_id) == theirs
    window.close()


def test_coco_export_and_reimport(qtbot, window, folder, tmp_path):
    open_and_wait(qtbot, window, folder / "a-eye.png")
    window.annotations.draw_rl.trigger()
    drag(window, (100, 80), (200, 180))
    window.annotations.export_coco(str(tmp_path / "boxes.json"))
    coco = load_coco(tmp_path / "boxes.json")
    assert list(coco) == ["a-eye.png"] and len(coco["a-eye.png"].boxes["RL"]) == 1 and coco["a-eye.png"].width == 600
    other = tmp_path / "copy"
    other.mkdir()
    (other / "a-eye.png").write_bytes((folder / "a-eye.png").read_bytes())
    open_and_wait(qtbot, window, other / "a-eye.png")
    assert window.view.boxes.items == {}
    window.annotations.import_coco(str(tmp_path / "boxes.json"))
    (imported,) = [i.box for i in window.view.boxes.items.values()]
    assert (imported.label, imported.x, imported.y, imported.w, imported.h) == ("RL", *coco["a-eye.png"].boxes["RL"][0])


def test_baseline_on_demand_and_exports(qtbot, window, folder, tmp_path):
    open_and_wait(qtbot, window, folder / "a-eye.png")
    with qtbot.waitSignal(window.baseline_shown, timeout=60000):
        window.panel.pathology.setCurrentIndex(2)  # CAM
    assert window.panel.pathology.currentData() == "cam"
    assert window.view.shown_heat is not None and window.view.heat_map is window.baselines["cam"].map
    written = window.export_maps(str(tmp_path))
    assert sorted(p.name for p in written) == ["a-eye.cam.npy", "a-eye.pathology-rl.npy", "a-eye.pathology-rnfld.npy"]
    assert np.load(tmp_path / "a-eye.cam.npy").shape == (420, 600)
    assert (tmp_path / "a-eye.maps.json").is_file() and not list(tmp_path.glob("*.partial"))
    assert window.export_view(str(tmp_path / "view.png")).stat().st_size > 1000


def test_evaluate_a_folder_with_a_known_answer(qtbot, window, folder):
    from fundus_viewer.core.annotations import new_box

    # a box over the whole photo holds all the heat: accuracy 100 % for every map, and chance 100 %;
    # a box over a quarter of the other photo: chance exactly 25 %
    with AnnotationStore.for_folder(folder) as store:
        store.add(new_box("a-eye.png", "RL", 0, 0, 600, 420, "dr-ann"))
        store.add(new_box("b-eye.png", "RL", 0, 0, 150, 150, "dr-ann"))
    open_and_wait(qtbot, window, folder / "a-eye.png")
    dialog = window.evaluate_dialog or window.evaluate_folder()
    for method, check in dialog.checks.items():
        check.setChecked(method in ("pathology", "cam"))
    dialog.metric_checks["auc"].setChecked(True)
    dialog.run_button.click()
    # (waiting on the worker's own signal would run pytest-qt's slot in the worker thread)
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=120000)
    scores = {(s.file_name, s.method, s.metric): s.value for s in dialog.result.scores}
    assert scores["a-eye.png", "pathology", "accuracy"] == pytest.approx(1.0) and scores[
        "a-eye.png", "chance", "accuracy"
    ] == pytest.approx(1.0)
    assert scores["a-eye.png", "cam", "accuracy"] == pytest.approx(1.0)
    assert scores["b-eye.png", "chance", "accuracy"] == pytest.approx(0.25)
    assert scores["b-eye.png", "chance", "auc"] == 0.5  # a flat map against a quarter of the photo
    labels = [dialog.table.verticalHeaderItem(r).text() for r in range(dialog.table.rowCount())]
    assert labels == [
        "Accuracy (heat in box) % · RL",
        "AUC (map vs box) · RL",
    ]  # no RNFLD boxes here: no empty RNFLD rows
    assert dialog.details.rowCount() == len(dialog.result.scores)
    assert "(n 2)" in dialog.table.item(0, 0).text()
    dialog.close()


def test_evaluation_can_be_cancelled(qtbot, window, folder):
    from fundus_viewer.core.annotations import new_box

    with AnnotationStore.for_folder(folder) as store:
        store.add(new_box("a-eye.png", "RL", 0, 0, 100, 100, "dr-ann"))
        store.add(new_box("b-eye.png", "RL", 0, 0, 100, 100, "dr-ann"))
    open_and_wait(qtbot, window, folder / "a-eye.png")
    dialog = window.evaluate_folder()
    for method, check in dialog.checks.items():
        check.setChecked(method == "pathology")
    # pressing Cancel as soon as the first photo starts (direct: runs in the worker, before it goes on)
    from fundus_viewer.gui.worker import PROGRESS

    window.worker.returned.connect(
        lambda r: r.kind == PROGRESS and window.worker.cancel(r.job), Qt.ConnectionType.DirectConnection
    )
    dialog.run_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=120000)
    assert dialog.result.cancelled and {s.file_name for s in dialog.result.scores} == {"a-eye.png"}
    assert dialog.progress.format() == "cancelled"
    dialog.close()


def test_drop_a_photo_and_recent_files(qtbot, window, folder):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder / "b-eye.png"))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.dropEvent(event)
    assert window.photo.name == "b-eye.png"
    assert window.recent_menu.actions()[0].text() == str(folder)  # Open recent lists folders


def test_side_by_side_and_layer_choice(qtbot, window, folder):
    open_and_wait(qtbot, window, folder / "a-eye.png")
    with qtbot.waitSignal(window.redrawn, timeout=5000):
        window.panel.side_by_side.setChecked(True)
    assert window.view2.isVisibleTo(window)
    maps = window.analysis.heatmaps(*window.panel.thresholds(), window.panel.normalization.currentData())
    for view, name in ((window.view, "rl"), (window.view2, "rnfld")):
        values, region = view.shown_heat
        assert np.array_equal(values, maps.maps[name].render(region, values.shape[::-1]))
    ticked = window.panel.ticked_layers()
    assert [n.split(".")[-1] for n in ticked] == ["relu3", "relu4", "relu5"]
    with qtbot.waitSignal(window.analysis_shown, timeout=30000):
        window.panel.layers.item(2).setCheckState(Qt.CheckState.Unchecked)  # relu3 off: a new pass
    assert window.analysis.layer_names == tuple(ticked[1:])
    assert "relu3" not in window.panel.counts.text() and "relu5" in window.panel.counts.text()


def test_cup_and_disc_outlines_and_the_vcdr(qtbot, tmp_path, folder, tiny_checkpoint):
    """A segmenter that finds the disc everywhere in its square and no cup: the disc outline is that
    square's border on the photo, no cup outline, vCDR 0.00 in the status bar; Ctrl+D hides it."""
    import torch

    from fundus_viewer.core.cup_disc import CupDiscSegmenter, CupDiscSpec, save_cup_disc_segmenter
    from fundus_viewer.gui.main_window import MainWindow

    segmenter = CupDiscSegmenter(CupDiscSpec(base=4, depth=2, input_size=64, resize=64))
    with torch.no_grad():
        segmenter.network.head.weight.zero_()
        segmenter.network.head.bias.copy_(torch.tensor([50.0, -50.0]))
    window = MainWindow(
        str(tiny_checkpoint), "cpu", str(save_cup_disc_segmenter(segmenter, tmp_path / "cd.safetensors"))
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: "alexnet" in window.device_label.text(), timeout=30000)
    photo = tmp_path / "crop.png"
    noise = np.random.default_rng(0).normal(150, 15, (100, 100, 3))
    Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(photo)  # no dark surround: used whole
    open_and_wait(qtbot, window, photo)
    qtbot.waitUntil(lambda: window.cup_disc is not None, timeout=10000)
    assert (
        "vCDR 0.00" in window.statusBar().currentMessage()
        and "Vertical cup-to-disc ratio 0.00" in window.panel.result.text()
    )
    xs, ys = window.view.outlines["disc"].getData()
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((0.28125, 98.71875, 0.28125, 98.71875))
    assert len(window.view.outlines["cup"].getData()[0]) == 0
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert not window.outline_action.isChecked() and len(window.view.outlines["disc"].getData()[0]) == 0
    window.close()


def test_a_camera_size_photo_is_drawn_at_the_screens_resolution(qtbot, window, tmp_path, make_fundus, monkeypatch):
    """A 3000 x 2000 photo: fitted, the photo comes from a pyramid level and the map is rendered at no
    more than the view's pixels; zoomed in, the photo tile is full resolution and the map is the
    photo's full-resolution map resampled for the view; the disc is located once for all of it."""
    import cv2
    from PySide6.QtCore import QRectF

    import fundus_viewer.core.disc as disc
    import fundus_viewer.core.photo as photo_module

    calls = []
    real = disc.locate_optic_disc
    counting = lambda *a, **k: calls.append(1) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(disc, "locate_optic_disc", counting)
    monkeypatch.setattr(photo_module, "locate_optic_disc", counting)
    big = cv2.resize(make_fundus(spot=(330, 200), spot_radius=18), (3000, 2100), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(big).save(tmp_path / "camera.png")
    open_and_wait(qtbot, window, tmp_path / "camera.png")
    qtbot.waitUntil(lambda: window.cup_disc is not None, timeout=30000)  # the bundled segmenter's measurement
    with qtbot.waitSignal(window.baseline_shown, timeout=60000):
        window.panel.pathology.setCurrentIndex(2)  # CAM, on the same prepared photo
    assert len(calls) == 1
    view = window.view
    screen_w, screen_h = view.viewbox.width(), view.viewbox.height()
    assert view.photo.image.shape[1] < 3000 / 2 and view.photo.image.shape[1] >= screen_w * 0.9
    values, region = view.shown_heat
    assert values.shape[1] <= screen_w + 1 and values.shape[0] <= screen_h + 1

    view.viewbox.setRange(QRectF(1200, 800, 400, 300), padding=0)
    qtbot.waitUntil(lambda: view.shown_heat[1][2] - view.shown_heat[1][0] < 700, timeout=5000)
    assert view.photo.image.shape[1] <= 3000 and view._photo_tile[0] == 0  # full detail
    values, (x0, y0, x1, y1) = view.shown_heat
    assert values.shape[1] > x1 - x0  # more screen pixels than photo pixels: rendered, not enlarged
    full = window.baselines["cam"].map.full()
    xs = x0 + (np.arange(values.shape[1]) + 0.5) * (x1 - x0) / values.shape[1] - 0.5
    ys = y0 + (np.arange(values.shape[0]) + 0.5) * (y1 - y0) / values.shape[0] - 0.5
    map_x, map_y = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
    resampled = cv2.remap(full, map_x, map_y, cv2.INTER_LINEAR)
    assert np.abs(values - resampled).max() <= 0.02


def test_what_is_asked_while_a_photo_opens_goes_to_the_right_photo(qtbot, window, folder):
    """CAM chosen, or the layers changed, while the next photo is still being decoded: the baseline on
    screen is the new photo's, and the new photo does open."""
    open_and_wait(qtbot, window, folder / "a-eye.png")
    window.open_photo(folder / "b-eye.png")
    with qtbot.waitSignal(window.baseline_shown, timeout=60000):
        window.panel.pathology.setCurrentIndex(2)  # CAM, asked while b-eye is on its way
    assert window.photo.name == "b-eye.png"
    assert window.baselines["cam"].map.transform == window.analysis.transform  # b-eye's geometry
    assert window.baselines["cam"].heat.shape == (300, 300)

    window.panel.pathology.setCurrentIndex(0)
    window.open_photo(folder / "a-eye.png")
    with qtbot.waitSignal(window.analysis_shown, timeout=30000) as shown:
        window.panel.layers.item(2).setCheckState(Qt.CheckState.Unchecked)  # a re-analysis, asked mid-open
    qtbot.waitUntil(
        lambda: (
            window.photo.name == "a-eye.png"
            and window.analysis is not None
            and window.analysis.image.name == "a-eye.png"
        ),
        timeout=30000,
    )
    assert shown.args is not None
