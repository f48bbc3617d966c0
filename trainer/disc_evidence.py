"""``fundus-train disc-evidence``: does the classifier look at the optic disc?

For photos with an expert disc mask (manifest role ``disc_mask``, linked to its photo by ``pair_id``):
the share of each heat map inside the disc's bounding box (mask >= --level), divided by the box's share
of the photo. A flat map scores 1; a map that ignores the disc scores below 1.

Where the pair also has a cup mask, the same for the neuroretinal rim (disc and not cup, pixel by pixel):
where rim loss shows. Each method is then compared with the first (``--methods``' first: ours) on the
same photos, paired: mean difference, paired t and Wilcoxon signed-rank p (the paper's Table 1 with a
test). A map with no heat at all cannot be scored: it is counted, and left out of its pairs.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import run_main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train disc-evidence", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="manifest with photo and disc_mask rows sharing a pair_id")
    parser.add_argument("--model", help="classifier checkpoint; default: the bundled one")
    parser.add_argument("--dataset", help="only this data set (the manifest's dataset column)")
    parser.add_argument("--label", default="glaucoma", help="only photos with this label ('' for all)")
    parser.add_argument(
        "--level", type=int, default=191, help="disc and cup mask level (Drishti-GS1: 191 = 3 of 4 experts)"
    )
    parser.add_argument(
        "--methods",
        default="pathology-rl,pathology-rnfld,cam",
        help="maps by name: pathology-rl, pathology-rnfld, cam, gbp, smoothgrad, occlusion",
    )
    parser.add_argument(
        "--metrics",
        default="accuracy",
        help="also: pointing-game, rank-accuracy, top-k, auc, deletion, insertion (fundus-viewer evaluate's); "
        "each on the disc box and the rim, every map against a flat one (chance), "
        "paired tests of the first map against the others",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("disc-evidence", build_parser(), measure, argv)


def disc_pairs(manifest: Path, dataset: str | None, label: str) -> list[tuple[Path, Path, Path | None]]:
    """(photo, disc mask, cup mask or None) of every matching photo with a disc mask."""
    from trainer.sources import DataError, read_manifest

    rows = read_manifest(manifest, ("path",))
    by_pair: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for row in rows:
        if row.get("pair_id"):  # optional: a row without one links no mask to its photo
            by_pair[row["pair_id"]][row.role] = row
    if not by_pair:
        raise DataError(f"{manifest}: no row has a pair_id, which links a disc_mask to its photo")
    pairs = []
    for roles in by_pair.values():
        photo = roles.get("photo")
        if photo is None or "disc_mask" not in roles:
            continue
        if dataset and photo.get("dataset") != dataset or label and photo.get("label", "").lower() != label.lower():
            continue
        cup = manifest.parent / roles["cup_mask"]["path"] if "cup_mask" in roles else None
        pairs.append((manifest.parent / photo["path"], manifest.parent / roles["disc_mask"]["path"], cup))
    return sorted(pairs)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from PIL import Image

    from fundus_viewer.core.boxes import mask_bounding_box
    from fundus_viewer.core.device import select_device
    from fundus_viewer.core.evaluation import check_metrics, score_maps
    from fundus_viewer.core.images import load_image
    from fundus_viewer.core.methods import map_method
    from fundus_viewer.core.metrics import boxes_mask, localization_accuracy, region_accuracy, uniform_accuracy
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.maps import build_maps
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer
    from trainer.sources import DataError

    pairs = disc_pairs(Path(args.data), args.dataset, args.label)
    if not pairs:
        raise DataError(f"{args.data}: no photo with a disc_mask matches")
    device = select_device(args.device)
    visualizer = PathologyVisualizer(load_classifier(args.model, device=device), device=device)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    check_metrics(metrics)
    wanted = tuple(dict.fromkeys(map_method(m) for m in methods))
    rows: list[tuple] = []  # (photo, map, region, metric, value) of every metric asked beyond the accuracy
    shares: dict[str, list[float]] = {m: [] for m in methods}
    rim_shares: dict[str, list[float]] = {m: [] for m in methods}
    chance: list[float] = []
    rim_chance: list[float] = []
    for photo_path, mask_path, cup_path in pairs:
        photo = load_image(photo_path)
        disc = np.asarray(Image.open(mask_path).convert("L"))
        box = mask_bounding_box(disc, args.level)
        if box is None:
            continue
        rim = None
        if cup_path is not None:
            rim = (disc >= args.level) & ~(np.asarray(Image.open(cup_path).convert("L")) >= args.level)
        maps = build_maps(visualizer, photo, wanted)
        for method in methods:
            heat = maps.full(method)
            shares[method].append(localization_accuracy(heat, [box]))
            rim_shares[method].append(region_accuracy(heat, rim) if rim is not None else np.nan)
        if metrics != ["accuracy"]:
            regions = {"disc box": boxes_mask(disc.shape, [box]), **({"rim": rim} if rim is not None else {})}
            rows += [
                (photo_path.name, *row)
                for row in score_maps(
                    visualizer, maps, regions, methods, metrics, map_for=lambda m, _r: m, seed=photo_path.name
                )
            ]
        chance.append(uniform_accuracy((photo.height, photo.width), [box]))
        rim_chance.append(float(rim.mean()) if rim is not None else np.nan)
    chance_mean = float(np.mean(chance))
    result: dict[str, Any] = {
        "photos": len(chance),
        "box_share_percent": 100 * chance_mean,
        "methods": summarise(shares, chance),
    }
    print(f"{len(chance)} photos; the disc box covers {100 * chance_mean:.2f}% of a photo on average")
    report(result["methods"], "the box")
    result["paired_disc_box"] = paired_tests(shares, methods[0])
    if np.isfinite(rim_chance).any():
        result["rim_share_percent"] = 100 * float(np.nanmean(rim_chance))
        result["rim"] = summarise(rim_shares, rim_chance)
        result["paired_rim"] = paired_tests(rim_shares, methods[0])
        print(f"the rim (disc and not cup) covers {result['rim_share_percent']:.2f}% of a photo on average")
        report(result["rim"], "the rim")
    if rows:
        result["metrics"] = metric_tables(rows, methods, metrics)
        print_metric_tables(result["metrics"], methods[0])
    for region in ("paired_disc_box", "paired_rim"):
        for method, t in result.get(region, {}).items():
            print(
                f"{region[len('paired_') :]:<9} {methods[0]} - {method}: "
                f"{100 * t['mean_difference']:+.1f} points over {t['n_pairs']} photos, "
                f"paired t p {t['t_p']:.2g}, Wilcoxon p {t['wilcoxon_p']:.2g}"
            )
    if args.json:
        atomic_write(args.json, json.dumps(result, indent=1))
    return result


def summarise(shares: dict[str, list[float]], chance: list[float]) -> dict[str, dict[str, float]]:
    """Per method: mean heat in the region, its ratio to the region's share, the median per-photo ratio,
    the mean +- SD over photos and how many maps had no heat at all."""
    import numpy as np

    region_share = np.array(chance, dtype=float)
    out = {}
    for method, per_photo in shares.items():
        values = np.array(per_photo, dtype=float)
        out[method] = {
            "heat_in_box_percent": 100 * float(np.nanmean(values)),
            "sd_percent": 100 * float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else float("nan"),
            "ratio_to_box_share": float(np.nanmean(values) / np.nanmean(region_share)),
            "median_per_photo_ratio": float(np.nanmedian(values / region_share)),
            "photos_without_heat": int(np.isnan(values).sum()),
        }
    return out


def paired_tests(shares: dict[str, list[float]], reference: str) -> dict[str, dict[str, float]]:
    """Each other method against ``reference`` on the photos where both maps have heat."""
    from fundus_viewer.core.evaluation import paired_test

    out = {}
    for method, values in shares.items():
        if method != reference:
            test = paired_test(shares[reference], values)
            if test["n"] >= 2:
                out[method] = {
                    "n_pairs": test["n"],
                    "mean_difference": test["mean_difference"],
                    "t_p": test["t_p"],
                    "wilcoxon_p": test["wilcoxon_p"],
                }
    return out


def metric_tables(rows: list[tuple], methods: list[str], metrics: list[str]) -> dict[str, dict[str, Any]]:
    """region -> metric -> {"methods": map -> mean / sd / n (chance included), "paired": the first map minus
    each other, on the photos both scored}."""
    from fundus_viewer.core.evaluation import LEVELS
    from fundus_viewer.core.metrics import mean_std

    out: dict[str, dict[str, Any]] = {}
    for region in dict.fromkeys(r[2] for r in rows):
        out[region] = {}
        for metric in metrics:
            values = {
                m: {photo: v for photo, mm, rr, me, v in rows if mm == m and rr == region and me == metric}
                for m in (*methods, *LEVELS)
            }
            photos = sorted(values[methods[0]])
            summary = {}
            for m, per_photo in values.items():
                mean, sd, n = mean_std(per_photo.values())
                summary[m] = {"mean": mean if n else None, "sd": sd if n > 1 else None, "n": n}
            series = {m: [values[m].get(p, float("nan")) for p in photos] for m in values}
            out[region][metric] = {"methods": summary, "paired": paired_tests(series, methods[0])}
    return out


def print_metric_tables(tables: dict[str, dict[str, Any]], reference: str) -> None:
    for region, by_metric in tables.items():
        for metric, table in by_metric.items():
            cells = "  ".join(
                f"{m} {r['mean']:.3f}+-{(r['sd'] or 0):.3f}"
                for m, r in table["methods"].items()
                if r["mean"] is not None
            )
            tests = "  ".join(
                f"{m} {t['mean_difference']:+.3f} p {t['wilcoxon_p']:.2g}" for m, t in table["paired"].items()
            )
            print(f"{region:<9} {metric:<14} {cells}\n{'':<24} {reference} minus: {tests}")


def report(methods: dict[str, dict[str, float]], region: str) -> None:
    for method, r in methods.items():
        print(
            f"{method:<16} {r['heat_in_box_percent']:6.2f}% +- {r['sd_percent']:.1f} of the heat in {region}: "
            f"{r['ratio_to_box_share']:.2f}x its share "
            f"(median per photo {r['median_per_photo_ratio']:.2f}x; {r['photos_without_heat']} maps without heat)"
        )
