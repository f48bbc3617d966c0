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

from trainer.common import run_main

EXPERT_LEVEL = 128  # Drishti-GS1 soft maps: 2 of 4 experts, what the segmenter's 0.5 threshold was trained for


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-train cup-disc-report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="manifest with photo, disc_mask and cup_mask rows sharing a pair_id")
    parser.add_argument("--model", help="cup/disc segmenter checkpoint; default: the bundled one")
    parser.add_argument("--all", action="store_true", help="every photo with masks, not only the segmenter's test split")
    parser.add_argument("--level", type=int, default=EXPERT_LEVEL, help="expert mask level")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    return parser


def main(argv=None) -> int:
    return run_main("cup-disc-report", build_parser(), report, argv)


def masked_samples(source):
    """Labelled photos that have both expert masks."""
    from trainer.sources import read_labelled_photos

    return [s for s in read_labelled_photos(source) if s.disc_mask is not None and s.cup_mask is not None]


def prepare(samples, spec, level: int) -> list[tuple]:
    """Per photo, once: (sample, expert disc, expert cup); the photo is decoded where it is measured."""
    import numpy as np
    from PIL import Image

    from trainer.sources import DataError

    items = []
    for sample in samples:
        with Image.open(sample.path) as photo:
            shape = photo.size[::-1]
        truth = []
        for path in (sample.disc_mask, sample.cup_mask):
            mask = np.asarray(Image.open(path).convert("L"))
            if mask.shape != shape:
                raise DataError(f"{path}: not the size of its photo {sample.path.name}")
            truth.append(mask >= level)
        items.append((sample, *truth))
    return items


def dice(a, b) -> float:
    total = int(a.sum()) + int(b.sum())
    return float(2 * (a & b).sum() / total) if total else 1.0


def evaluate(model, items) -> dict:
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
            raise DataError(f"{sample.disc_mask}: not the size of its photo {sample.path.name} (as decoded, EXIF orientation applied)")
        if segmented.disc is None:  # the app shows no outline here: nothing found counts as nothing
            probability = np.zeros_like(probability)
        found = [segmented.transform.to_original(layer) > model.spec.threshold for layer in probability]
        expert = vertical_cdr_of_masks(torch.from_numpy(disc[None]), torch.from_numpy(cup[None]))
        rows.append({
            "photo": sample.path.name, "label": sample.label,
            "disc_dice": dice(found[0], disc), "cup_dice": dice(found[1] & found[0], cup & disc),
            "vcdr": float(vertical_cdr(logits, model.spec.threshold)[0]), "expert_vcdr": float(expert[0]),
            "disc_found": segmented.disc is not None, "squares": segmented.squares,
        })
    column = lambda key: np.array([r[key] for r in rows], dtype=float)  # noqa: E731
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
        "vcdr_pearson_r": float(pearsonr(vcdr, expert)[0]) if len(vcdr) > 2 and vcdr.std() > 0 and expert.std() > 0 else float("nan"),
        "auc_vcdr": float(roc_auc_score(labels, vcdr)) if both else float("nan"),
        "auc_expert_vcdr": float(roc_auc_score(all_labels, column("expert_vcdr"))) if len(set(all_labels)) == 2 else float("nan"),
        "rows": rows,
    }


def figures(result: dict) -> dict:
    """The summary of ``evaluate``, without its per-photo rows (what a checkpoint stores)."""
    return {k: v for k, v in result.items() if k != "rows"}


def format_summary(result: dict) -> str:
    return (
        f"{result['photos']} photos ({result['glaucoma']} glaucoma): Dice disc {result['disc_dice']:.3f}, cup {result['cup_dice']:.3f}; "
        f"no disc found on {result.get('disc_missed', 0)}\n"
        f"vertical CDR (photos with a disc found) vs the experts': mean absolute error {result['vcdr_mae']:.3f}, Pearson r {result['vcdr_pearson_r']:.3f}\n"
        f"AUC for glaucoma: the vCDR alone {result['auc_vcdr']:.3f}, the experts' vCDR {result['auc_expert_vcdr']:.3f}"
    )


def report(args) -> dict:
    from fundus_viewer.core.cup_disc import load_cup_disc_segmenter
    from trainer.sources import DataError

    model = load_cup_disc_segmenter(args.model)
    samples = masked_samples(args.data)
    if not args.all:
        test_files = set(model.spec.training.get("split", {}).get("test", []))
        samples = [s for s in samples if s.path.name in test_files]
    if not samples:
        raise DataError(f"{args.data}: no labelled photo with disc and cup masks{'' if args.all else ' in the segmenter test split (try --all)'}")
    result = evaluate(model, prepare(samples, model.spec, args.level))
    print(format_summary(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result
