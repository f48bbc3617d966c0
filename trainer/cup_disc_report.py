"""``fundus-train cup-disc-report``: how well a cup/disc segmenter measures.

On photos with expert disc and cup masks (manifest roles ``disc_mask``, ``cup_mask``; by default only
those in the segmenter's own test split): Dice of disc and cup on the photo's grid (expert masks at
``--level``: Drishti-GS1's 128 = 2 of 4 experts, the level the 0.5 threshold was trained for), the
vertical cup-to-disc ratio against the experts' (mean absolute error, Pearson r), and how well each
ratio alone separates glaucoma from normal (AUC).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import run_main

if TYPE_CHECKING:
    import numpy as np

    from fundus_viewer.core.cup_disc import CupDiscSegmenter, CupDiscSpec
    from trainer.sources import Sample

# per photo: (sample, expert disc mask, expert cup mask)
Item = tuple["Sample", "np.ndarray", "np.ndarray"]

EXPERT_LEVEL = 128  # Drishti-GS1 soft maps: 2 of 4 experts, what the segmenter's 0.5 threshold was trained for


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train cup-disc-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="manifest with photo, disc_mask and cup_mask rows sharing a pair_id"
    )
    parser.add_argument("--model", help="cup/disc segmenter checkpoint; default: the bundled one")
    parser.add_argument(
        "--all", action="store_true", help="every photo with masks, not only the segmenter's test split"
    )
    parser.add_argument("--level", type=int, default=EXPERT_LEVEL, help="expert mask level")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("cup-disc-report", build_parser(), report, argv)


def masked_samples(source: str | Path) -> list[Sample]:
    """Labelled photos that have both expert masks."""
    from trainer.sources import read_labelled_photos

    return [s for s in read_labelled_photos(source) if s.disc_mask is not None and s.cup_mask is not None]


def prepare(samples: list[Sample], spec: CupDiscSpec, level: int) -> list[Item]:
    """Per photo, once: (sample, expert disc, expert cup); the photo is decoded where it is measured."""
    import numpy as np
    from PIL import Image

    from trainer.sources import DataError

    items: list[Item] = []
    for sample in samples:
        if sample.disc_mask is None or sample.cup_mask is None:  # masked_samples keeps only photos with both
            raise DataError(f"{sample.path}: no disc_mask and cup_mask rows to measure against")
        with Image.open(sample.path) as photo:
            shape = photo.size[::-1]
        truth = []
        for path in (sample.disc_mask, sample.cup_mask):
            mask = np.asarray(Image.open(path).convert("L"))
            if mask.shape != shape:
                raise DataError(f"{path}: not the size of its photo {sample.path.name}")
            truth.append(mask >= level)
        items.append((sample, truth[0], truth[1]))
    return items


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return float(2 * (a & b).sum() / total) if total else 1.0


def evaluate(model: CupDiscSegmenter, items: list[Item]) -> dict[str, Any]:
    """Dice, vCDR error and AUCs of ``model`` on prepared items (see ``prepare``), each photo measured
    as the app measures it (``core.cup_disc.segment_disc``: the located square, others where it finds
    no disc, then the square re-centred on the disc found)."""
    import numpy as np
    import torch
    from scipy.stats import pearsonr
    from sklearn.metrics import roc_auc_score

    from fundus_viewer.core.cup_disc import segment_disc, vertical_cdr, vertical_cdr_of_masks
    from trainer.sources import DataError

    model.eval()
    rows = []
    for sample, disc, cup in items:
        segmented = segment_disc(model, sample.path)
        logits = segmented.logits[None]
        probability = torch.sigmoid(logits[0]).numpy()
        if disc.shape != (segmented.transform.height, segmented.transform.width):
            raise DataError(
                f"{sample.disc_mask}: not the size of its photo {sample.path.name} "
                "(as decoded, EXIF orientation applied)"
            )
        if segmented.disc is None:  # the app shows no outline here: nothing found counts as nothing
            probability = np.zeros_like(probability)
        outline = [segmented.transform.to_original(layer) > model.spec.threshold for layer in probability]
        expert_vcdr = vertical_cdr_of_masks(torch.from_numpy(disc[None]), torch.from_numpy(cup[None]))
        rows.append(
            {
                "photo": sample.path.name,
                "label": sample.label,
                "disc_dice": dice(outline[0], disc),
                "cup_dice": dice(outline[1] & outline[0], cup & disc),
                "vcdr": float(vertical_cdr(logits, model.spec.threshold)[0]),
                "expert_vcdr": float(expert_vcdr[0]),
                "disc_found": segmented.disc is not None,
                "squares": segmented.squares,
            }
        )

    def column(key: str) -> np.ndarray:
        return np.array([r[key] for r in rows], dtype=float)

    labels = column("label").astype(int)
    all_labels = labels
    # The ratio is read only where a disc was found (the app shows none elsewhere): its error, r and AUC
    # are over those photos; the misses are counted, and score 0 in the Dice means.
    found = column("disc_found").astype(bool)
    labels, vcdr, expert = labels[found], column("vcdr")[found], column("expert_vcdr")[found]
    both = len(set(labels)) == 2
    return {
        "photos": len(rows),
        "glaucoma": int(all_labels.sum()),
        "disc_dice": float(column("disc_dice").mean()),
        "cup_dice": float(column("cup_dice").mean()),
        "disc_missed": int((~found).sum()),
        "vcdr_mae": float(np.abs(vcdr - expert).mean()) if found.any() else float("nan"),
        # undefined for fewer than 3 photos or a constant ratio (an untrained net)
        "vcdr_pearson_r": float(pearsonr(vcdr, expert)[0])
        if len(vcdr) > 2 and vcdr.std() > 0 and expert.std() > 0
        else float("nan"),
        "auc_vcdr": float(roc_auc_score(labels, vcdr)) if both else float("nan"),
        "auc_expert_vcdr": float(roc_auc_score(all_labels, column("expert_vcdr")))
        if len(set(all_labels)) == 2
        else float("nan"),
        "rows": rows,
    }


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The summary of ``evaluate``, without its per-photo rows (what a checkpoint stores)."""
    return {k: v for k, v in result.items() if k != "rows"}


def format_summary(result: dict[str, Any]) -> str:
    return (
        f"{result['photos']} photos ({result['glaucoma']} glaucoma): "
        f"Dice disc {result['disc_dice']:.3f}, cup {result['cup_dice']:.3f}; "
        f"no disc found on {result.get('disc_missed', 0)}\n"
        f"vertical CDR (photos with a disc found) vs the experts': "
        f"mean absolute error {result['vcdr_mae']:.3f}, Pearson r {result['vcdr_pearson_r']:.3f}\n"
        f"AUC for glaucoma: the vCDR alone {result['auc_vcdr']:.3f}, "
        f"the experts' vCDR {result['auc_expert_vcdr']:.3f}"
    )


def report(args: argparse.Namespace) -> dict[str, Any]:
    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
    from trainer.sources import DataError

    model = load_cup_disc_segmenter(args.model)
    samples = masked_samples(args.data)
    if not args.all:
        test_files = set(model.spec.training.get("split", {}).get("test", []))
        samples = [s for s in samples if s.path.name in test_files]
    if not samples:
        where = "" if args.all else " in the segmenter test split (try --all)"
        raise DataError(f"{args.data}: no labelled photo with disc and cup masks{where}")
    result = evaluate(model, prepare(samples, model.spec, args.level))
    print(format_summary(result))
    if args.json:
        atomic_write(args.json, json.dumps(result, indent=1))
    return result
