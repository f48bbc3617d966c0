"""Table 1 on photos whose answer is known: the evidence is a planted spot."""

import json

import pytest
from PIL import Image

from fundus_viewer.core.boxes import ImageBoxes, load_coco, save_coco
from fundus_viewer.core.errors import BoxesError
from fundus_viewer.core.evaluation import evaluate_localization
from fundus_viewer.core.visualization.pathology import PathologyVisualizer
from fundus_viewer.core.visualization.selection import Thresholds

SPOTS = {"a.png": (190, 150), "b.png": (320, 300)}


@pytest.fixture
def spot_folder(tmp_path, make_fundus):
    for name, spot in SPOTS.items():
        Image.fromarray(make_fundus(spot=spot, spot_radius=10)).save(tmp_path / name)
    return tmp_path


def boxes_around(margin=30, far=False):
    out = {}
    for name, (x, y) in SPOTS.items():
        entry = ImageBoxes(name, 600, 420)
        if far:
            x, y = 600 - x, 420 - y  # mirrored: nowhere near the spot
        entry.boxes["RL"].append((x - margin, y - margin, 2 * margin, 2 * margin))
        entry.boxes["RNFLD"].append((x - margin, y - margin, 2 * margin, 2 * margin))
        out[name] = entry
    return out


def test_boxes_on_the_evidence_score_near_one_and_elsewhere_zero(spot_model, spot_folder):
    visualizer = PathologyVisualizer(spot_model, layers=["network.features.relu"])
    # the two maps have normalised CMI 1.0 and 0.5: one lands in each set
    everything = Thresholds(theta_act=0.0, cmi_low=0.75, cmi_high=0.75)
    on = evaluate_localization(visualizer, spot_folder, boxes_around(), ["pathology"], everything)
    off = evaluate_localization(visualizer, spot_folder, boxes_around(far=True), ["pathology"], everything)
    table_on, table_off = on.table(["pathology"]), off.table(["pathology"])
    for pathology in ("RL", "RNFLD"):
        mean, std, n = table_on[pathology]["pathology"]
        assert n == 2 and mean > 95
        assert table_off[pathology]["pathology"][0] < 1
        assert table_on[pathology]["chance"][0] == pytest.approx(100 * 60 * 60 / (600 * 420), rel=0.05)


def test_progress_cancel_and_bad_photos(spot_model, spot_folder):
    visualizer = PathologyVisualizer(spot_model, layers=["network.features.relu"])
    boxes = boxes_around()
    (spot_folder / "broken.png").write_bytes(b"\x89PNG garbage")
    broken = ImageBoxes("broken.png", 600, 420)
    broken.boxes["RL"].append((1, 1, 5, 5))
    boxes["broken.png"] = broken
    seen = []
    result = evaluate_localization(
        visualizer, spot_folder, boxes, ["pathology"], progress=lambda d, t, n: seen.append((d, t))
    )
    assert "broken.png" in result.failures and len({s.file_name for s in result.scores}) == 2
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    stopped = evaluate_localization(visualizer, spot_folder, boxes, ["pathology"], should_stop=lambda: True)
    assert stopped.cancelled and stopped.scores == []


def test_size_mismatch_is_reported(spot_model, spot_folder):
    boxes = boxes_around()
    boxes["a.png"].width = 1200
    result = evaluate_localization(
        PathologyVisualizer(spot_model, layers=["network.features.relu"]), spot_folder, boxes, ["pathology"]
    )
    assert "1200 x 420" in result.failures["a.png"]


def test_coco_round_trip_and_errors(tmp_path):
    boxes = boxes_around()
    save_coco(boxes, tmp_path / "gt.json")
    again = load_coco(tmp_path / "gt.json")
    assert again["a.png"].boxes == boxes["a.png"].boxes and again["b.png"].width == 600
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(BoxesError, match="not valid JSON"):
        load_coco(tmp_path / "bad.json")
    (tmp_path / "nocat.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "cup"}]})
    )
    with pytest.raises(BoxesError, match="RL or RNFLD"):
        load_coco(tmp_path / "nocat.json")
    coco = json.loads((tmp_path / "gt.json").read_text())
    coco["annotations"][0]["image_id"] = 99
    (tmp_path / "orphan.json").write_text(json.dumps(coco))
    with pytest.raises(BoxesError, match=r"orphan.json: annotations\[0\].image_id: no image has the id 99"):
        load_coco(tmp_path / "orphan.json")


def test_every_metric_on_the_planted_spot_beats_the_flat_map(spot_model, spot_folder, tmp_path, capsys):
    visualizer = PathologyVisualizer(spot_model, layers=["network.features.relu"])
    everything = Thresholds(theta_act=0.0, cmi_low=0.75, cmi_high=0.75)
    metrics = ("accuracy", "pointing-game", "rank-accuracy", "auc", "deletion", "insertion")
    result = evaluate_localization(visualizer, spot_folder, boxes_around(), ["pathology"], everything, metrics=metrics)
    assert {s.method for s in result.scores} == {"pathology", "chance", "chance-seen"}
    seen, flat = (result.table(["pathology"], "accuracy")["RL"][m][0] for m in ("chance-seen", "chance"))
    assert seen > flat  # the box lies inside what the model sees: a harder level to beat
    for metric in metrics:
        ours, chance = (result.table(["pathology"], metric)["RL"][m][0] for m in ("pathology", "chance"))
        assert (ours < chance) if metric == "deletion" else (ours > chance), metric
    assert result.table(["pathology"], "pointing-game")["RL"]["pathology"][:2] == (100.0, 0.0)
    paired = result.paired(["pathology"], "accuracy")["RL"]["chance"]
    assert paired["n"] == 2 and paired["mean_difference"] > 0.5
    path, per_image = result.write_csv(tmp_path / "t.csv", ["pathology"])
    assert "deletion" in path.read_text() and len(per_image.read_text().splitlines()) == 1 + len(result.scores)
    assert "Pointing game" in result.format_table(["pathology"])
