"""The paper's Table 1 for a folder of photos and a COCO box file: localisation accuracy per method
and pathology, mean +- std over images. Qt-free; the GUI passes ``progress`` and ``should_stop``."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fundus_viewer.core.boxes import CATEGORIES, ImageBoxes
from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.images import load_image
from fundus_viewer.core.metrics import localization_accuracy, mean_std, uniform_accuracy
from fundus_viewer.core.photo import prepare_photo
from fundus_viewer.core.visualization.baselines import BASELINES
from fundus_viewer.core.visualization.maps import build_maps
from fundus_viewer.core.visualization.selection import Thresholds

METHODS = ("pathology",) + BASELINES


@dataclass
class ImageScore:
    file_name: str
    method: str
    pathology: str  # "RL" or "RNFLD"
    accuracy: float
    chance: float  # a flat map's accuracy on the same boxes


@dataclass
class Evaluation:
    scores: list[ImageScore] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # file name -> reason
    cancelled: bool = False

    def table(self, methods=METHODS) -> dict[str, dict[str, tuple[float, float, int]]]:
        """pathology -> method (and "chance") -> (mean %, std %, n)."""
        out = {}
        for pathology in CATEGORIES:
            row = {}
            for method in methods:
                values = [s.accuracy for s in self.scores if s.method == method and s.pathology == pathology]
                mean, std, n = mean_std(values)
                row[method] = (100 * mean, 100 * std, n)
            chance = {s.file_name: s.chance for s in self.scores if s.pathology == pathology}
            mean, std, n = mean_std(chance.values())
            row["chance"] = (100 * mean, 100 * std, n)
            out[pathology] = row
        return out

    def format_table(self, methods=METHODS) -> str:
        table = self.table(methods)
        columns = list(methods) + ["chance"]
        lines = ["Accuracy  " + "".join(f"{c:>20}" for c in columns)]
        for pathology, row in table.items():
            cells = "".join(f"{_pm(*row[c]):>20}" for c in columns)
            lines.append(f"{pathology:<10}{cells}")
        return "\n".join(lines)

    def write_csv(self, path: str | Path, methods=METHODS) -> tuple[Path, Path]:
        """The table (pathology, method, mean_percent, std_percent, n) and, beside it, every image's score."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["pathology", "method", "mean_percent", "std_percent", "n"])
            for pathology, row in self.table(methods).items():
                for method, (mean, std, n) in row.items():
                    writer.writerow([pathology, method, f"{mean:.2f}", f"{std:.2f}", n])
        per_image = path.with_name(path.stem + ".per-image.csv")
        with per_image.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["file_name", "method", "pathology", "accuracy", "chance"])
            for s in self.scores:
                writer.writerow([s.file_name, s.method, s.pathology, f"{s.accuracy:.6f}", f"{s.chance:.6f}"])
        return path, per_image


def _pm(mean: float, std: float, n: int) -> str:
    return "n/a" if n == 0 else f"{mean:.1f} +- {std:.1f} (n={n})"


def evaluate_localization(
    visualizer,
    images_dir: str | Path,
    boxes: dict[str, ImageBoxes],
    methods=METHODS,
    thresholds: Thresholds = Thresholds(),
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Evaluation:
    """Score every image that has RL or RNFLD boxes. An unreadable photo is recorded and skipped."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise FundusViewerError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    result = Evaluation()
    todo = [entry for entry in boxes.values() if any(entry.boxes[c] for c in CATEGORIES)]
    for done, entry in enumerate(todo):
        if should_stop is not None and should_stop():
            result.cancelled = True
            break
        if progress is not None:
            progress(done, len(todo), entry.file_name)
        try:
            _score_image(visualizer, Path(images_dir), entry, methods, thresholds, result)
        except FundusViewerError as exc:
            result.failures[entry.file_name] = str(exc)
    if progress is not None and not result.cancelled:
        progress(len(todo), len(todo), "")
    return result


def _score_image(visualizer, images_dir: Path, entry: ImageBoxes, methods, thresholds, result: Evaluation):
    photo = prepare_photo(load_image(images_dir / entry.file_name))
    if entry.width and entry.height and (photo.width, photo.height) != (entry.width, entry.height):
        raise FundusViewerError(
            f"{entry.file_name}: the boxes were drawn on a {entry.width} x {entry.height} image, "
            f"but the photo is {photo.width} x {photo.height}"
        )
    maps = build_maps(visualizer, photo, methods, thresholds)
    full: dict[str, object] = {}  # each map on the photo's grid once, however many box sets score it
    for pathology in CATEGORIES:
        gt = entry.boxes[pathology]
        if not gt:
            continue
        chance = uniform_accuracy((photo.height, photo.width), gt)
        for method in methods:
            name = maps.scored_by(method, pathology)
            if name not in full:
                full[name] = maps.full(name)
            accuracy = localization_accuracy(full[name], gt)
            result.scores.append(ImageScore(entry.file_name, method, pathology, accuracy, chance))
