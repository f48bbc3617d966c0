"""``fundus-train cup-disc``: train the optic disc and cup segmenter (a U-Net) on expert masks.

Photos with ``disc_mask`` and ``cup_mask`` rows (Drishti-GS1 in ../shared/data: soft maps of 4 experts,
used as soft targets). Input: a square of ``--diameters`` disc diameters around the disc that
``fundus_viewer.core.disc`` locates, as the app finds it, at ``--size`` px; random rotation, scale,
shift, mirror and colour jitter. Loss: BCE + soft Dice per map. The best epoch by validation Dice
(mean of disc and cup) is kept; the test split gets Dice, the vertical cup-to-disc ratio's error
against the experts' and its AUC for glaucoma (``fundus-train cup-disc-report``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import add_run_options, command_line, run_main

if TYPE_CHECKING:
    import torch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train cup-disc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="manifest with photo, disc_mask and cup_mask rows sharing a pair_id"
    )
    parser.add_argument(
        "--out", required=True, help="run folder: cup-disc.safetensors, log.csv, curves.png, metrics.json"
    )
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--size", type=int, default=128, help="input side in pixels (a multiple of 2**depth)")
    parser.add_argument(
        "--resize",
        type=int,
        default=148,
        help="the square is resized to this; the centre --size px are the input (training shifts within the margin)",
    )
    parser.add_argument(
        "--diameters", type=float, default=1.75, help="width of the disc-centred square in disc diameters"
    )
    parser.add_argument(
        "--scale-jitter",
        type=float,
        default=1.1,
        help="random scale in [1/S, S]: the located disc's radius "
        "is off by a factor of up to 2 on other cameras, and the segmenter should still find it (1.1)",
    )
    parser.add_argument(
        "--camera-augment",
        action="store_true",
        help="imitate other cameras in training: colour cast, tone curve, "
        "defocus, vignetting, uneven illumination, JPEG (trainer/camera_augment.py)",
    )
    parser.add_argument("--base", type=int, default=16)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument(
        "--patience", type=int, default=60, help="stop after this many epochs without a better validation Dice"
    )
    add_run_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("cup-disc", build_parser(), train, argv)


def cup_disc_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice of each map (the cup is small: BCE alone under-segments it)."""
    import torch.nn.functional as F

    probability = logits.sigmoid()
    overlap = 2 * (probability * target).sum(dim=(2, 3)) + 1
    dice = 1 - overlap / (probability.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + dice.mean()


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from fundus_viewer.core.cup_disc import (
        CupDiscSegmenter,
        CupDiscSpec,
        load_cup_disc_segmenter,
        save_cup_disc_segmenter,
    )
    from fundus_viewer.core.progress import counted
    from trainer.classifier_data import AugmentedCrops, context_for, load_context
    from trainer.common import Finished, Hooks, Training, Validation, autocast, fit, start_devices
    from trainer.cup_disc_report import EXPERT_LEVEL, evaluate, figures, format_summary, masked_samples, prepare
    from trainer.distributed import describe, wrap
    from trainer.sources import DataError, split_samples

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.size % 2**args.depth:
        raise DataError(f"--size {args.size} is not a multiple of 2**depth = {2**args.depth}")
    dist, device = start_devices(args.seed, args.device)
    samples = masked_samples(args.data)
    if not samples:
        raise DataError(f"{args.data}: no labelled photo has both a disc_mask and a cup_mask row")
    samples = split_samples(samples, seed=args.seed)
    splits = {name: [s for s in samples if s.split == name] for name in ("train", "val", "test")}
    for name, members in splits.items():
        if not members:
            raise DataError(f"{args.data}: the {name} split of the photos with disc and cup masks is empty")
    spec = CupDiscSpec(
        base=args.base,
        depth=args.depth,
        input_size=args.size,
        resize=max(args.resize, args.size),
        diameters=args.diameters,
    )
    settings = {
        k: getattr(args, k)
        for k in (
            "epochs",
            "batch_size",
            "lr",
            "size",
            "resize",
            "diameters",
            "base",
            "depth",
            "patience",
            "scale_jitter",
            "camera_augment",
        )
    }
    spec.training = {
        "data": str(args.data),
        "split": {name: [s.path.name for s in members] for name, members in splits.items()},
        "settings": settings,
        "seed": args.seed,
        "command": command_line("cup-disc"),
        "torch": torch.__version__,
        "machine": describe(device, dist),
    }
    if args.scale_jitter < 1:
        raise DataError(f"--scale-jitter {args.scale_jitter}: 1 or more (scales are drawn from [1/S, S])")
    scales = (1 / args.scale_jitter, args.scale_jitter)
    prepared = [
        load_context(s, spec, zoom_out=context_for(scales)) for s in counted(splits["train"], "preparing train photos")
    ]
    dataset = AugmentedCrops(
        [c for c, _ in prepared],
        [s.label for s in splits["train"]],
        spec.input_size,
        spec.resize,
        args.seed,
        masks=[m for _, m in prepared],
        mask_size=spec.input_size,
        camera=args.camera_augment,
        scale_range=scales,
    )
    val_items = prepare(splits["val"], spec, EXPERT_LEVEL)

    model = CupDiscSegmenter(spec).to(device)
    trained = wrap(model, dist)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    best_path = out / "cup-disc.safetensors"

    def draw(epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(args.seed * 100003 + epoch)
        return torch.randperm(len(dataset), generator=generator).tolist()

    def step(batch: list[torch.Tensor]) -> torch.Tensor:
        x, _label, target, _weight = batch
        x, target = x.to(device), target.to(device)
        with autocast(device):
            logits = trained(x)
        return cup_disc_loss(logits.float(), target)

    def validate(_epoch: int) -> Validation:
        val = evaluate(model, val_items)
        return Validation(
            (val["disc_dice"] + val["cup_dice"]) / 2,
            {"val_disc_dice": val["disc_dice"], "val_cup_dice": val["cup_dice"], "val_vcdr_mae": val["vcdr_mae"]},
            f"val Dice disc {val['disc_dice']:.3f} cup {val['cup_dice']:.3f}, vCDR error {val['vcdr_mae']:.3f}",
            metrics=val,
        )

    def save_best(epoch: int, validation: Validation) -> None:
        spec.metrics = {"validation": figures(validation.metrics) | {"epoch": epoch + 1}}
        save_cup_disc_segmenter(model, best_path, half=args.half)

    def test(run: Finished) -> dict[str, Any]:
        best = load_cup_disc_segmenter(best_path, device=device)
        result = evaluate(best, prepare(splits["test"], spec, EXPERT_LEVEL))
        best.spec.metrics = {**best.spec.metrics, "test": figures(result)}
        run.stamp(best.spec.training)
        save_cup_disc_segmenter(best, best_path, half=args.half)
        atomic_write(
            out / "metrics.json",
            json.dumps(
                {"metrics": best.spec.metrics, "test_rows": result["rows"], "training": best.spec.training}, indent=1
            ),
        )
        print(format_summary(result))
        return result

    columns = ["val_disc_dice", "val_cup_dice", "val_vcdr_mae"]
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
            epochs=args.epochs,
            batch_size=args.batch_size,
            patience=args.patience,
        ),
        Hooks(
            draw=draw,
            step=step,
            validate=validate,
            save_best=save_best,
            test=test,
            columns=columns,
            panels=[("loss", ["train_loss"]), ("validation", columns)],
            metric="validation Dice",
            best_key="best_dice",
        ),
    )
