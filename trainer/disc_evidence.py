"""``fundus-train disc-evidence``: does the classifier look at the optic disc?

For photos with an expert disc mask (manifest role ``disc_mask``, linked to its photo by ``pair_id``):
the share of each heat map inside the disc's bounding box (mask >= --level), divided by the box's share
of the photo. A flat map scores 1; a map that ignores the disc scores below 1.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

from trainer.common import run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-train disc-evidence", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="manifest with photo and disc_mask rows sharing a pair_id")
    parser.add_argument("--model", help="classifier checkpoint; default: the bundled one")
    parser.add_argument("--dataset", help="only this data set (the manifest's dataset column)")
    parser.add_argument("--label", default="glaucoma", help="only photos with this label ('' for all)")
    parser.add_argument("--level", type=int, default=191, help="disc mask level (Drishti-GS1: 191 = 3 of 4 experts)")
    parser.add_argument("--methods", default="pathology-rl,pathology-rnfld,cam")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    return parser


def main(argv=None) -> int:
    return run_main("disc-evidence", build_parser(), measure, argv)


def disc_pairs(manifest: Path, dataset: str | None, label: str) -> list[tuple[Path, Path]]:
    with manifest.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    by_pair = defaultdict(dict)
    for row in rows:
        by_pair[row["pair_id"]][row["role"]] = row
    pairs = []
    for roles in by_pair.values():
        photo = roles.get("photo")
        if photo is None or "disc_mask" not in roles:
            continue
        if dataset and photo.get("dataset") != dataset or label and photo.get("label") != label:
            continue
        pairs.append((manifest.parent / photo["path"], manifest.parent / roles["disc_mask"]["path"]))
    return sorted(pairs)


def measure(args) -> dict:
    import numpy as np
    from PIL import Image

    from fundus_viewer.core.boxes import mask_bounding_box
    from fundus_viewer.core.device import select_device
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.metrics import localization_accuracy, uniform_accuracy
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.baselines import baseline_map
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer
    from trainer.sources import DataError

    pairs = disc_pairs(Path(args.data), args.dataset, args.label)
    if not pairs:
        raise DataError(f"{args.data}: no photo with a disc_mask matches")
    device = select_device(args.device)
    visualizer = PathologyVisualizer(load_classifier(args.model, device=device), device=device)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    shares = {m: [] for m in methods}
    chance = []
    for photo_path, mask_path in pairs:
        photo = load_image(photo_path)
        box = mask_bounding_box(np.asarray(Image.open(mask_path).convert("L")), args.level)
        if box is None:
            continue
        maps = visualizer.analyze(photo).heatmaps()
        _, transform, x = visualizer.prepare(photo)
        for method in methods:
            if method == "pathology-rl":
                heat = maps.rl
            elif method == "pathology-rnfld":
                heat = maps.rnfld
            else:
                heat = baseline_map(method, visualizer.model, x, transform).heat
            shares[method].append(localization_accuracy(heat, [box]))
        chance.append(uniform_accuracy((photo.height, photo.width), [box]))
    chance_mean = float(np.mean(chance))
    result = {"photos": len(chance), "box_share_percent": 100 * chance_mean, "methods": {}}
    for method, values in shares.items():
        values = np.array(values, dtype=float)
        ratios = values / np.array(chance)
        result["methods"][method] = {
            "heat_in_box_percent": 100 * float(np.nanmean(values)),
            "ratio_to_box_share": float(np.nanmean(values) / chance_mean),
            "median_per_photo_ratio": float(np.nanmedian(ratios)),
            "photos_without_heat": int(np.isnan(values).sum()),
        }
    print(f"{len(chance)} photos; the disc box covers {100 * chance_mean:.2f}% of a photo on average")
    for method, r in result["methods"].items():
        print(f"{method:<16} {r['heat_in_box_percent']:6.2f}% of the heat in the box: {r['ratio_to_box_share']:.2f}x the box's share (median per photo {r['median_per_photo_ratio']:.2f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result
