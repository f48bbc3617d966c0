"""Regenerate the README's heat-map figure from the bundled model and sample photos.

python docs/make_figures.py            # writes docs/heatmaps-sample.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fundus_viewer.core import PathologyVisualizer, load_classifier, load_image  # noqa: E402
from fundus_viewer.core.overlay import colorize, write_png  # noqa: E402
from fundus_viewer.core.visualization.baselines import compute_baselines  # noqa: E402

SAMPLES = ["HRF_01_g.jpg", "ACRIMA_Im310_g.jpg"]


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    visualizer = PathologyVisualizer(load_classifier())
    rows = []
    for name in SAMPLES:
        photo = load_image(ROOT / "resources" / "samples" / name)
        analysis = visualizer.analyze(photo)
        maps = analysis.heatmaps()
        cam = compute_baselines(visualizer, photo, methods=("cam",))["cam"].heat
        x0, y0, x1, y1 = analysis.transform.seen_region  # the region the classifier saw
        panels = [
            (photo.rgb, f"{name}  P(glaucoma) {analysis.probability:.2f}"),
            (photo.rgb[y0:y1, x0:x1], "what the classifier sees"),
            (colorize(maps.rl[y0:y1, x0:x1]), "RL (high CMI)" + ("  - empty" if not maps.rl.any() else "")),
            (colorize(maps.rnfld[y0:y1, x0:x1]), "RNFLD (low CMI)" + ("  - empty" if not maps.rnfld.any() else "")),
            (colorize(cam[y0:y1, x0:x1]), "CAM (Grad-CAM)"),
        ]
        height = 260
        tiles = [
            label(cv2.resize(t, (round(t.shape[1] * height / t.shape[0]), height), interpolation=cv2.INTER_AREA), text)
            for t, text in panels
        ]
        rows.append(np.hstack([np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255) for t in tiles]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_png(ROOT / "docs" / "heatmaps-sample.png", np.vstack(rows))
    print("wrote docs/heatmaps-sample.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
