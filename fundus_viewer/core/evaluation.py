"""The paper's Table 1 for a folder of photos and a COCO box file: localisation accuracy per method
and pathology, mean +- std over images. Qt-free; the GUI passes ``progress`` and ``should_stop``."""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.boxes import ImageBoxes
from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.faithfulness import FAITHFULNESS, faithfulness_scores
from fundus_viewer.core.images import load_image
from fundus_viewer.core.localisation_metrics import LOCALISATION, localisation_scores
from fundus_viewer.core.methods import LABELS, METHOD_KEYS
from fundus_viewer.core.metrics import boxes_mask, mean_std
from fundus_viewer.core.photo import prepare_photo
from fundus_viewer.core.visualization.maps import build_maps
from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS, Thresholds

CHANCE = "chance"  # a flat map: each metric's chance level (deletion / insertion: pixels in random order)
# flat over what the model sees only (its input's square, within the field of view): a map of a disc-
# centred model is zero outside that square, so the photo-wide flat map is too easy a level to beat
CHANCE_SEEN = "chance-seen"
LEVELS = (CHANCE, CHANCE_SEEN)
METRICS = LOCALISATION + FAITHFULNESS
PERCENT = ("accuracy", "pointing-game", "rank-accuracy", "top-k")
METRIC_TITLES = {
    "accuracy": "Accuracy (heat in box)",
    "pointing-game": "Pointing game",
    "rank-accuracy": "Rank accuracy",
    "top-k": "Top-k intersection",
    "auc": "AUC (map vs box)",
    "deletion": "Deletion area (lower)",
    "insertion": "Insertion area (higher)",
}


@dataclass
class ImageScore:
    file_name: str
    method: str  # a method, or CHANCE: a flat map, the metric's chance level
    pathology: str  # "RL" or "RNFLD"
    metric: str
    value: float


@dataclass
class Evaluation:
    scores: list[ImageScore] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # file name -> reason
    cancelled: bool = False
    metrics: tuple[str, ...] = ("accuracy",)

    def values(self, method: str, pathology: str, metric: str = "accuracy") -> dict[str, float]:
        return {
            s.file_name: s.value
            for s in self.scores
            if s.method == method and s.pathology == pathology and s.metric == metric
        }

    def table(self, methods=METHOD_KEYS, metric: str = "accuracy") -> dict[str, dict[str, tuple[float, float, int]]]:
        """pathology -> method (and "chance") -> (mean, std, n) of ``metric``, in % for the shares
        (accuracy, pointing game, rank accuracy, top-k), as they are for AUC and the curve areas."""
        scale = 100 if metric in PERCENT else 1
        out = {}
        for pathology in LABELS:
            row = {}
            for method in (*methods, *LEVELS):
                mean, std, n = mean_std(self.values(method, pathology, metric).values())
                row[method] = (scale * mean, scale * std, n)
            out[pathology] = row
        return out

    def paired(
        self, methods=METHOD_KEYS, metric: str = "accuracy", reference: str = "pathology"
    ) -> dict[str, dict[str, dict]]:
        """pathology -> baseline -> ours minus it on the photos both scored: mean difference, paired t and
        Wilcoxon signed-rank p (``paired_test``)."""
        out = {}
        for pathology in LABELS:
            ours = self.values(reference, pathology, metric)
            row = {}
            for method in (*methods, *LEVELS):
                if method != reference:
                    theirs = self.values(method, pathology, metric)
                    row[method] = paired_test(
                        [ours[f] for f in ours if f in theirs], [theirs[f] for f in ours if f in theirs]
                    )
            out[pathology] = row
        return out

    def format_table(self, methods=METHOD_KEYS) -> str:
        lines = []
        columns = [*methods, *LEVELS]
        for metric in self.metrics:
            table = self.table(methods, metric)
            unit = " %" if metric in PERCENT else ""
            lines.append(f"{METRIC_TITLES[metric] + unit:<24}" + "".join(f"{c:>22}" for c in columns))
            for pathology, row in table.items():
                lines.append(
                    f"  {pathology:<22}"
                    + "".join(f"{_pm(*row[c], 1 if metric in PERCENT else 3):>22}" for c in columns)
                )
            if "pathology" in methods and len(columns) > 2:
                for pathology, tested in self.paired(methods, metric).items():
                    tests = "; ".join(
                        f"{m} {t['mean_difference'] * (100 if metric in PERCENT else 1):+.3g} (p {t['wilcoxon_p']:.2g})"
                        for m, t in tested.items()
                        if t["n"]
                    )
                    if tests:
                        lines.append(f"  {pathology} ours minus: {tests}  [Wilcoxon signed-rank]")
            lines.append("")
        return "\n".join(lines).rstrip()

    def write_csv(self, path: str | Path, methods=METHOD_KEYS) -> tuple[Path, Path]:
        """The table (metric, pathology, method, mean, std, n, and ours minus it with the paired tests)
        and, beside it, every image's score."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with io.StringIO() as stream:
            writer = csv.writer(stream)
            writer.writerow(
                ["metric", "pathology", "method", "mean", "std", "n", "ours_minus_mean", "paired_t_p", "wilcoxon_p"]
            )
            for metric in self.metrics:
                paired = self.paired(methods, metric) if "pathology" in methods else {}
                for pathology, row in self.table(methods, metric).items():
                    for method, (mean, std, n) in row.items():
                        test = paired.get(pathology, {}).get(method)
                        extra = (
                            [f"{test['mean_difference']:.6f}", f"{test['t_p']:.4g}", f"{test['wilcoxon_p']:.4g}"]
                            if test and test["n"]
                            else ["", "", ""]
                        )
                        writer.writerow([metric, pathology, method, f"{mean:.4f}", f"{std:.4f}", n, *extra])
            atomic_write(path, stream.getvalue())
        per_image = path.with_name(path.stem + ".per-image.csv")
        with io.StringIO() as stream:
            writer = csv.writer(stream)
            writer.writerow(["file_name", "method", "pathology", "metric", "value"])
            for s in self.scores:
                writer.writerow([s.file_name, s.method, s.pathology, s.metric, f"{s.value:.6f}"])
            atomic_write(per_image, stream.getvalue())
        return path, per_image


def paired_test(a: list[float], b: list[float]) -> dict:
    """a - b over the pairs where both are finite (a map without heat has no score): n, mean difference,
    paired t p and Wilcoxon signed-rank p (``study.stats.compare_paired``)."""
    from fundus_viewer.core.study.stats import compare_paired

    pairs = np.array(
        [(x, y) for x, y in zip(a, b, strict=True) if np.isfinite(x) and np.isfinite(y)], dtype=float
    ).reshape(-1, 2)
    if len(pairs) < 2:
        return {"n": len(pairs), "mean_difference": float("nan"), "t_p": float("nan"), "wilcoxon_p": float("nan")}
    r = compare_paired(pairs[:, 0], pairs[:, 1])
    return {"n": r.n_pairs, "mean_difference": r.mean_difference, "t_p": r.p, "wilcoxon_p": r.wilcoxon_p}


def _pm(mean: float, std: float, n: int, digits: int = 1) -> str:
    return "n/a" if n == 0 else f"{mean:.{digits}f} +- {std:.{digits}f} (n={n})"


def evaluate_localization(
    visualizer,
    images_dir: str | Path,
    boxes: dict[str, ImageBoxes],
    methods=METHOD_KEYS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    metrics=("accuracy",),
) -> Evaluation:
    """Score every image that has RL or RNFLD boxes. An unreadable photo is recorded and skipped."""
    unknown = [m for m in methods if m not in METHOD_KEYS]
    if unknown:
        raise FundusViewerError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_KEYS)}")
    check_metrics(metrics)
    result = Evaluation(metrics=tuple(metrics))
    todo = [entry for entry in boxes.values() if any(entry.boxes[c] for c in LABELS)]
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


def check_metrics(metrics) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise FundusViewerError(f"unknown metric(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METRICS)}")


def _score_image(visualizer, images_dir: Path, entry: ImageBoxes, methods, thresholds, result: Evaluation):
    photo = prepare_photo(load_image(images_dir / entry.file_name))
    if entry.width and entry.height and (photo.width, photo.height) != (entry.width, entry.height):
        raise FundusViewerError(
            f"{entry.file_name}: the boxes were drawn on a {entry.width} x {entry.height} image, "
            f"but the photo is {photo.width} x {photo.height}"
        )
    maps = build_maps(visualizer, photo, methods, thresholds)
    regions = {p: boxes_mask((photo.height, photo.width), entry.boxes[p]) for p in LABELS if entry.boxes[p]}
    for method, region, metric, value in score_maps(
        visualizer, maps, regions, methods, result.metrics, seed=entry.file_name
    ):
        result.scores.append(ImageScore(entry.file_name, method, region, metric, value))


def seen_flat(photo, transform) -> np.ndarray:
    """1 inside the field of view within the square the model sees, 0 elsewhere."""
    from fundus_viewer.core.sanity import compared_region

    return compared_region(photo.fov.mask(), transform.seen_region).astype(np.float32)


def score_maps(
    visualizer, maps, regions: dict[str, np.ndarray], methods, metrics, map_for=None, seed: str = ""
) -> list[tuple[str, str, str, float]]:
    """(method, region, metric, value) for every method (and CHANCE, a flat map, and CHANCE_SEEN, one flat
    over what the model sees) on every region of one
    photo. ``map_for(method, region)``: the map that scores a region (default: ``PhotoMaps.scored_by``,
    the RL map for RL boxes); a map's full-size grid and its curves are made once however many regions
    it scores. Deletion and insertion do not depend on the region: each region gets its map's figure."""
    map_for = map_for or maps.scored_by
    shape = (maps.photo.height, maps.photo.width)
    local = [m for m in metrics if m in LOCALISATION]
    curves = [m for m in metrics if m in FAITHFULNESS]
    full, faithful, rows = {}, {}, []
    order_seed = zlib.crc32(seed.encode())  # a photo's own tie-break, the same for every method
    _, transform, x = visualizer.prepare(maps.photo)
    if curves:
        model = visualizer.model

        def score(batch):
            return model.glaucoma_probability(model(batch.to(x.device)))

    for region, mask in regions.items():
        for method in (*methods, *LEVELS):
            name = method if method in LEVELS else map_for(method, region)
            if local:
                if name not in full:
                    full[name] = (
                        np.ones(shape, np.float32)
                        if name == CHANCE
                        else seen_flat(maps.photo, transform)
                        if name == CHANCE_SEEN
                        else maps.full(name)
                    )
                rows += [(method, region, m, v) for m, v in localisation_scores(full[name], mask, local).items()]
            if curves:
                key = (
                    CHANCE if name in LEVELS else name
                )  # both flat maps rank the model input at random: one pair of curves
                if key not in faithful:
                    height, width = x.shape[-2:]  # the map's grid covers the model input
                    relevance = (
                        np.zeros((height, width))
                        if key == CHANCE
                        else cv2.resize(
                            np.maximum(maps.maps[key].grid, 0).astype(np.float32),
                            (width, height),
                            interpolation=cv2.INTER_LINEAR,
                        )
                    )
                    if (
                        key != CHANCE and relevance.max(initial=0) <= 0
                    ):  # no heat: it ranks nothing, no score (not chance)
                        faithful[key] = dict.fromkeys(curves, float("nan"))
                    else:
                        faithful[key] = faithfulness_scores(
                            score, x, relevance, torch.zeros_like(x), curves, seed=order_seed
                        )
                rows += [(method, region, m, v) for m, v in faithful[key].items()]
    return rows
