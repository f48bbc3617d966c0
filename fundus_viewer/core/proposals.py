"""Boxes proposed from a heat map, for an annotator to accept, adjust or reject: never ground truth
until accepted.

The map (its positive part) is thresholded, by Otsu's method over the pixels with heat or at a
percentile of them, its connected regions become boxes (the region's bounding box on the photo's own
grid), the strongest first (by the heat they hold); regions smaller than ``min_area`` of the photo are
noise and dropped. A COCO file of proposals says so in every annotation (``"proposal": true``), and
``boxes.load_coco`` refuses it as ground truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.methods import LABELS

THRESHOLDS = ("otsu", "percentile")
GRID_SIDE = 512  # maps come from grids of at most 56 cells: a 512 px grid loses nothing of their regions


@dataclass(frozen=True)
class Proposal:
    label: str  # "RL" or "RNFLD"
    x: float
    y: float
    w: float
    h: float
    heat_share: float  # of the map's heat, the share inside this region
    origin: str  # what made it, recorded with the box once accepted

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h


def threshold_of(values: np.ndarray, method: str = "otsu", percentile: float = 90.0) -> float:
    """The level above which a pixel with heat belongs to a region (``values``: the positive heat)."""
    if method not in THRESHOLDS:
        raise ValueError(f"threshold must be one of {', '.join(THRESHOLDS)}")
    if method == "percentile":
        if not 0 < percentile < 100:
            raise ValueError("the percentile must lie between 0 and 100")
        return float(np.percentile(values, percentile))
    peak = float(values.max())
    level, _ = cv2.threshold(
        np.round(values / peak * 255).astype(np.uint8).reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
    )
    return float(level) / 255 * peak


def propose_boxes(
    heat: np.ndarray,
    label: str,
    method: str = "otsu",
    percentile: float = 90.0,
    min_area: float = 0.0005,
    max_boxes: int = 5,
    source: str = "",
) -> list[Proposal]:
    """Proposals from one map (H x W on the photo's grid, >= 0), the strongest first."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}")
    heat = np.asarray(heat, dtype=np.float32)
    height, width = heat.shape
    scale = min(1.0, GRID_SIDE / max(height, width))
    small = (
        heat
        if scale == 1.0
        else cv2.resize(
            heat, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    )
    positive = small[small > 0]
    if positive.size == 0:
        return []
    level = threshold_of(positive, method, percentile)
    mask = (small > level).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    total = float(small.sum())
    setting = "Otsu" if method == "otsu" else f"{percentile:g}th percentile"
    found = []
    for region in range(1, count):
        x, y, w, h, area = stats[region]
        if area < min_area * small.size:
            continue
        share = float(small[labels == region].sum() / total)
        sx, sy = width / small.shape[1], height / small.shape[0]  # back to the photo's pixels
        found.append(
            Proposal(
                label,
                float(x * sx),
                float(y * sy),
                float(w * sx),
                float(h * sy),
                share,
                f"proposed from {source or label} map ({setting})",
            )
        )
    found.sort(key=lambda p: -p.heat_share)
    return found[:max_boxes]


def write_proposals_coco(proposals: dict[str, tuple[tuple[int, int], list[Proposal]]], path: str | Path) -> Path:
    """COCO JSON of proposals per photo ({file name: ((width, height), proposals)}), every annotation
    marked ``"proposal": true`` with its origin and heat share."""
    categories = [{"id": i + 1, "name": name, "supercategory": "glaucoma"} for i, name in enumerate(LABELS)]
    ids = {name: i + 1 for i, name in enumerate(LABELS)}
    images: list[dict] = []
    annotations: list[dict] = []
    coco = {
        "info": {
            "description": (
                "Fundus Viewer box proposals from heat maps: not ground truth until an annotator accepts them"
            )
        },
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    for image_id, (name, ((width, height), found)) in enumerate(proposals.items(), start=1):
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for p in found:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": ids[p.label],
                    "bbox": list(p.rect),
                    "area": p.w * p.h,
                    "iscrowd": 0,
                    "proposal": True,
                    "origin": p.origin,
                    "heat_share": p.heat_share,
                }
            )
    return atomic_write(Path(path), json.dumps(coco, indent=1).encode())
