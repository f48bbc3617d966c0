"""Real vs Patho-GAN vs baseline on held-out vessel maps, with each photo's RL and RNFLD maps.

python docs/make_gan_figure.py --data ../shared/data/MANIFEST.csv [--vessel-cache DIR]   # docs/gan-samples.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fundus_viewer.core.cup_disc import load_cup_disc_segmenter  # noqa: E402
from fundus_viewer.core.gan.checkpoint import load_generator  # noqa: E402
from fundus_viewer.core.gan.compare import compare  # noqa: E402
from fundus_viewer.core.models.checkpoint import load_classifier  # noqa: E402
from fundus_viewer.core.overlay import colorize, write_png  # noqa: E402
from trainer.gan_data import photo_pairs  # noqa: E402

CELL = 192


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--vessel-cache", default="gan-figure-vessel-cache")
    parser.add_argument("--rows", type=int, default=3)
    parser.add_argument("--models", nargs=2, metavar=("PATHO_GAN", "BASELINE"), help="default: the bundled pair")
    args = parser.parse_args()
    classifier = load_classifier()
    gan, base = (
        (load_generator(p) for p in args.models)
        if args.models
        else (load_generator(which="patho-gan"), load_generator(which="baseline"))
    )
    size = gan.spec.size
    cup_disc = load_cup_disc_segmenter() if gan.spec.disc_cup or base.spec.disc_cup else None
    pairs = photo_pairs(
        args.data,
        Path(args.vessel_cache),
        size,
        classifier.spec.disc_diameters,
        "glaucoma",
        log=lambda *a, **k: None,
        cup_disc_model=cup_disc,
    )
    held_out = set(gan.spec.training["split"]["test"])
    pairs = [p for p in pairs if p.name in held_out][: args.rows]
    rows = []
    for pair in pairs:
        result = compare(classifier, pair, {"Patho-GAN": gan, "baseline": base})
        vessels = cv2.resize(
            np.repeat((pair.vessels[..., None] * 255).astype(np.uint8), 3, 2),
            (CELL, CELL),
            interpolation=cv2.INTER_AREA,
        )
        cells = [label(vessels, pair.name)]
        for r in result.renditions:
            heat = [cv2.resize(colorize(m / max(1e-8, m.max()), "inferno"), (CELL, CELL)) for m in (r.rl, r.rnfld)]
            cells += [
                label(
                    cv2.resize(r.image, (CELL, CELL), interpolation=cv2.INTER_AREA), f"{r.name}  P {r.probability:.2f}"
                ),
                label(heat[0], f"{r.name}: RL (disc crop)"),
                label(heat[1], f"{r.name}: RNFLD"),
            ]
        rows.append(np.concatenate(cells, axis=1))
    out = ROOT / "docs" / "gan-samples.png"
    write_png(out, np.concatenate(rows, axis=0))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
