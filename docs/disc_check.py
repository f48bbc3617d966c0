"""Where the cup/disc segmenter finds the disc on every full photo of ../shared/data, and a contact sheet
to look at each one (the located circle in yellow, the segmented disc in green; red: no disc found).

    python docs/disc_check.py ../shared/data OUT.json SHEET.png [--model cup-disc.safetensors]

Drishti-GS1 has expert disc masks: there the segmented disc's centre is checked against them. HRF,
CHASE_DB1 (another camera, children's eyes) and hrf/full (3504 x 2336) have none: look at the sheet.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from fundus_viewer.core.cup_disc import load_cup_disc_segmenter, measure_cup_disc
from fundus_viewer.core.photo import prepare_photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("json", type=Path)
    parser.add_argument("sheet", type=Path)
    parser.add_argument("--model")
    args = parser.parse_args()
    rows = list(csv.DictReader((args.data / "MANIFEST.csv").open()))
    masks = {r["pair_id"]: args.data / r["path"] for r in rows if r["role"] == "disc_mask"}
    photos = [
        (r["dataset"], args.data / r["path"], masks.get(r["pair_id"]))
        for r in rows
        if r["role"] == "photo" and r["dataset"] != "ACRIMA"
    ]
    photos += [("HRF full size", p, None) for p in sorted((args.data / "hrf" / "full").glob("*.jpg"))]
    model = load_cup_disc_segmenter(args.model)
    results, tiles = [], []
    for dataset, path, mask in photos:
        photo = prepare_photo(path)
        measured = measure_cup_disc(model, photo)
        found = measured.disc
        row = {"dataset": dataset, "photo": path.name, "found": found is not None, "squares": measured.squares}
        if mask is not None and found is not None:
            truth = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) >= 128
            row["centre_in_expert_disc"] = bool(truth[int(round(found.y)), int(round(found.x))])
            row["radius_ratio"] = found.radius / float(np.sqrt(truth.sum() / np.pi))
        results.append(row)
        scale = 240 / photo.width
        small = np.ascontiguousarray(
            cv2.resize(photo.rgb, (240, round(photo.height * scale)), interpolation=cv2.INTER_AREA)
        )
        located = photo.disc
        cv2.circle(
            small,
            (round(located.x * scale), round(located.y * scale)),
            max(2, round(located.radius * scale)),
            (255, 255, 0),
            1,
        )
        if "disc" in measured.outlines:
            cv2.polylines(small, [np.round(measured.outlines["disc"] * scale).astype(np.int32)], True, (0, 255, 0), 2)
        else:
            cv2.rectangle(small, (0, 0), (small.shape[1] - 1, small.shape[0] - 1), (255, 0, 0), 4)
        cv2.putText(small, path.stem[:14], (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        tile = np.zeros((200, 240, 3), np.uint8)
        tile[: min(200, small.shape[0])] = small[:200]
        tiles.append(tile)
    summary = defaultdict(lambda: {"photos": 0, "found": 0})
    for row in results:
        summary[row["dataset"]]["photos"] += 1
        summary[row["dataset"]]["found"] += row["found"]
        if "centre_in_expert_disc" in row:
            summary[row["dataset"]]["centre_in_expert_disc"] = (
                summary[row["dataset"]].get("centre_in_expert_disc", 0) + row["centre_in_expert_disc"]
            )
    for name, figures in summary.items():
        print(name, figures, "missed:", [r["photo"] for r in results if r["dataset"] == name and not r["found"]])
    args.json.write_text(json.dumps({"summary": summary, "photos": results}, indent=1))
    while len(tiles) % 10:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i : i + 10]) for i in range(0, len(tiles), 10)])
    cv2.imwrite(str(args.sheet), sheet[..., ::-1])


if __name__ == "__main__":
    main()
