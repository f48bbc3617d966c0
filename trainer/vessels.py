"""``fundus-train vessels``: train the U-Net vessel segmenter on photo / vessel-mask pairs.

Patch-based: random patches, half of them centred near vessels, flipped, rotated by multiples of 90
degrees and colour-jittered; loss = BCE + soft Dice inside the field of view. Validation segments whole
photos; the best epoch by validation Dice is kept, and the mask threshold is chosen on validation.
Test: Dice, sensitivity, specificity and pixel AUC inside the FOV, on the original pixel grid.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import add_run_options, command_line, run_main

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Preset:
    base: int
    depth: int
    patch: int
    batch_size: int
    patches_per_epoch: int
    epochs: int
    lr: float
    patience: int


PRESETS = {
    "laptop": Preset(base=16, depth=3, patch=96, batch_size=16, patches_per_epoch=1600, epochs=40, lr=2e-3, patience=8),
    "paper": Preset(
        base=32, depth=4, patch=128, batch_size=8, patches_per_epoch=4000, epochs=100, lr=1e-3, patience=15
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train vessels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        required=True,
        help="manifest (path, role, pair_id, dataset) or a folder with images/, vessels/[, fov/]",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="laptop")
    for name, kind in (
        ("epochs", int),
        ("base", int),
        ("depth", int),
        ("patch", int),
        ("batch-size", int),
        ("patches-per-epoch", int),
        ("lr", float),
        ("patience", int),
    ):
        parser.add_argument(f"--{name}", type=kind)
    add_run_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("vessels", build_parser(), train, argv)


def train(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch

    from fundus_viewer.core.fov import analyse_field_of_view
    from fundus_viewer.core.progress import counted
    from fundus_viewer.core.segmentation_metrics import segmentation_report
    from fundus_viewer.core.vessels import (
        VesselSegmenter,
        VesselSpec,
        load_vessel_segmenter,
        predict_probability,
        save_vessel_segmenter,
        segment_vessels,
        to_working,
        working_scale,
    )
    from trainer.common import Finished, Hooks, Training, Validation, autocast, fit, start_devices
    from trainer.distributed import describe, wrap
    from trainer.sources import DataError
    from trainer.vessel_sources import PatchSampler, VesselPair, read_vessel_pairs, split_pairs, vessel_weight_map

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    given = {f.name: getattr(args, f.name) for f in fields(Preset) if getattr(args, f.name, None) is not None}
    settings = replace(PRESETS[args.preset], **given)
    dist, device = start_devices(args.seed, args.device)
    splits = split_pairs(read_vessel_pairs(args.data), seed=args.seed)
    for name, members in splits.items():
        if not members:
            raise DataError(f"{args.data}: the {name} split is empty; at least 3 subjects are needed")
    spec = VesselSpec(base=settings.base, depth=settings.depth)
    spec.training = {
        "data": str(args.data),
        "split": {name: [p.photo.name for p in members] for name, members in splits.items()},
        "preset": args.preset,
        "settings": asdict(settings),
        "seed": args.seed,
        "command": command_line("vessels"),
        "torch": torch.__version__,
        "machine": describe(device, dist),
    }

    def working(pairs: list[VesselPair], desc: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Photos and masks at the segmenter's working scale (FOV spec.fov_diameter wide)."""
        import cv2

        items = []
        for pair in counted(pairs, desc):
            rgb, vessels, fov = pair.load()
            image = to_working(rgb, working_scale(analyse_field_of_view(rgb), spec.fov_diameter))
            size = (image.shape[1], image.shape[0])
            vessels, fov = (
                cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
                for m in (vessels, fov)
            )
            items.append((image, vessels, fov))
        return items

    train_items = working(splits["train"], "preparing train pairs")
    val_items = working(splits["val"], "preparing validation pairs")
    dataset = PatchSampler(
        [i[0] for i in train_items],
        [i[1] for i in train_items],
        [i[2] for i in train_items],
        [vessel_weight_map(i[1]) & i[2] for i in train_items],
        settings.patch,
        settings.patches_per_epoch,
        args.seed,
    )

    model = VesselSegmenter(spec).to(device)
    trained = wrap(model, dist)  # DistributedDataParallel under torchrun
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
    best_path = out / "vessels.safetensors"

    def step(batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y, m = (t.to(device) for t in batch)
        with autocast(device):
            logits = trained(x)
        return vessel_loss(logits.float(), y, m)

    def pooled_validation(segmenter: VesselSegmenter) -> tuple[np.ndarray, np.ndarray]:
        """Validation probabilities and truth, pooled over the photos' FOV pixels."""
        segmenter.eval()
        probs = [predict_probability(segmenter, rgb) for rgb, _, _ in val_items]
        truth = np.concatenate([v[f] for (_, v, f) in val_items])
        pooled = np.concatenate([p[f] for p, (_, _, f) in zip(probs, val_items, strict=True)])
        return pooled, truth

    def validate(_epoch: int) -> Validation:
        pooled, truth = pooled_validation(model)
        report = segmentation_report(pooled, truth, np.ones_like(truth, bool))
        return Validation(
            report["dice"],
            {"val_dice": report["dice"], "val_auc": report["auc"]},
            f"val Dice {report['dice']:.4f}, AUC {report['auc']:.4f}",
        )

    def test(run: Finished) -> dict[str, Any]:
        best = load_vessel_segmenter(best_path, device=device)
        pooled, truth = pooled_validation(best)
        thresholds = np.round(np.arange(0.3, 0.71, 0.05), 2)
        dices = [
            segmentation_report(pooled, truth, np.ones_like(truth, bool), t, auc_pixels=1000)["dice"]
            for t in thresholds
        ]
        best.spec.threshold = float(thresholds[int(np.argmax(dices))])
        result = {}
        per_dataset: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for pair in counted(splits["test"], "testing"):
            rgb, vessels, fov = pair.load()
            probability = segment_vessels(best, rgb)  # the app's own path, on the original grid
            per_dataset.setdefault(pair.dataset, []).append((probability[fov], vessels[fov]))
        groups = {"all": [x for v in per_dataset.values() for x in v], **per_dataset}
        for name, items in groups.items():
            p = np.concatenate([a for a, _ in items])
            t = np.concatenate([b for _, b in items])
            report = segmentation_report(p, t, np.ones_like(t, bool), best.spec.threshold)
            result[name] = {"images": len(items), **report}
        best.spec.metrics = {"validation_dice": run.best, "threshold": best.spec.threshold, "test": result}
        run.stamp(best.spec.training)
        save_vessel_segmenter(best, best_path, half=args.half)
        atomic_write(
            out / "metrics.json", json.dumps({"metrics": best.spec.metrics, "training": best.spec.training}, indent=1)
        )
        for name, r in result.items():
            print(
                f"{name:<12} images {r['images']:>3}  Dice {r['dice']:.4f}  sens {r['sensitivity']:.4f}  "
                f"spec {r['specificity']:.4f}  AUC {r['auc']:.4f}"
            )
        return result

    return fit(
        Training(
            args=args,
            out=out,
            started=started,
            dist=dist,
            device=device,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            dataset=dataset,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            patience=settings.patience,
        ),
        Hooks(
            # the patch draws depend only on (seed, epoch, index): each rank takes its share of the indices
            draw=lambda _epoch: list(range(len(dataset))),
            step=step,
            validate=validate,
            save_best=lambda _epoch, _validation: save_vessel_segmenter(model, best_path, half=args.half),
            test=test,
            columns=["val_dice", "val_auc"],
            panels=[("loss", ["train_loss"]), ("validation", ["val_dice", "val_auc"])],
            metric="validation Dice",
            best_key="best_dice",
        ),
    )


def vessel_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice, both counted only inside the field of view."""
    import torch
    import torch.nn.functional as F

    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * mask).sum() / mask.sum().clamp(min=1)
    probability = torch.sigmoid(logits) * mask
    dice = 1 - (2 * (probability * target).sum() + 1) / (probability.sum() + (target * mask).sum() + 1)
    return bce + dice
