"""``fundus-train vessels``: train the U-Net vessel segmenter on photo / vessel-mask pairs.

Patch-based: random patches, half of them centred near vessels, flipped, rotated by multiples of 90
degrees and colour-jittered; loss = BCE + soft Dice inside the field of view. Validation segments whole
photos; the best epoch by validation Dice is kept, and the mask threshold is chosen on validation.
Test: Dice, sensitivity, specificity and pixel AUC inside the FOV, on the original pixel grid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from trainer.common import add_run_options, command_line, end_of_epoch_stop, loader_workers, optimizer_step, resume_state, run_main, save_training_state

PRESETS = {
    "laptop": dict(base=16, depth=3, patch=96, batch_size=16, patches_per_epoch=1600, epochs=40, lr=2e-3, patience=8),
    "paper": dict(base=32, depth=4, patch=128, batch_size=8, patches_per_epoch=4000, epochs=100, lr=1e-3, patience=15),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fundus-train vessels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="manifest (path, role, pair_id, dataset) or a folder with images/, vessels/[, fov/]")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="laptop")
    for name, kind in (("epochs", int), ("base", int), ("depth", int), ("patch", int), ("batch-size", int), ("patches-per-epoch", int), ("lr", float), ("patience", int)):
        parser.add_argument(f"--{name}", type=kind)
    add_run_options(parser)
    return parser


def main(argv=None) -> int:
    return run_main("vessels", build_parser(), train, argv)


class PatchSampler:
    """A torch Dataset of random patches; the draw depends only on (seed, epoch, index)."""

    def __init__(self, images, vessels, fovs, near, patch: int, length: int, seed: int):
        self.images, self.vessels, self.fovs, self.near = images, vessels, fovs, near
        self.patch, self.length, self.seed, self.epoch = patch, length, seed, 0
        import numpy as np

        self.near_points = [np.argwhere(n) for n in near]
        self.fov_points = [np.argwhere(f) for f in fovs]
        # padded once here rather than per patch: a patch centred on the edge still has its full size
        half = patch // 2
        pad = lambda a: np.pad(a, ((half, half), (half, half)) + ((0, 0),) * (a.ndim - 2), mode="reflect")  # noqa: E731
        self.padded = [(pad(i), pad(v), pad(f)) for i, v, f in zip(images, vessels, fovs)]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        import numpy as np
        import torch

        rng = np.random.default_rng((self.seed, self.epoch, index))
        which = int(rng.integers(len(self.images)))
        points = self.near_points[which] if rng.random() < 0.5 else self.fov_points[which]
        row, col = points[int(rng.integers(len(points)))]
        image, vessels, fov = self.padded[which]
        window = (slice(row, row + self.patch), slice(col, col + self.patch))
        x, y, m = image[window].astype(np.float32) / 255.0, vessels[window].astype(np.float32), fov[window].astype(np.float32)
        turns, flip = int(rng.integers(4)), rng.random() < 0.5
        x, y, m = (np.rot90(a, turns) for a in (x, y, m))
        if flip:
            x, y, m = x[:, ::-1], y[:, ::-1], m[:, ::-1]
        x = np.clip(x * rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, size=3), 0, 1) ** rng.uniform(0.8, 1.25)
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        return as_tensor(x.transpose(2, 0, 1)), as_tensor(y[None]), as_tensor(m[None])


def train(args) -> dict:
    import numpy as np
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from fundus_viewer.core.fov import analyse_field_of_view
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
    from trainer.classifier_data import worker_init
    from trainer.distributed import broadcast_flag, describe, finish, setup, share, wrap
    from trainer.runlog import RunLog, plot_curves
    from trainer.sources import DataError
    from trainer.vessel_sources import read_vessel_pairs, split_pairs, vessel_weight_map

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = dict(PRESETS[args.preset])
    for key in settings:
        if getattr(args, key, None) is not None:
            settings[key] = getattr(args, key)
    torch.manual_seed(args.seed)  # every rank builds the same initial network
    dist, device = setup(args.device)
    if dist.main:
        print(f"device: {describe(device, dist)}", file=sys.stderr)
    splits = split_pairs(read_vessel_pairs(args.data), seed=args.seed)
    for name, members in splits.items():
        if not members:
            raise DataError(f"{args.data}: the {name} split is empty; at least 3 subjects are needed")
    spec = VesselSpec(base=settings["base"], depth=settings["depth"])
    spec.training = {
        "data": str(args.data),
        "split": {name: [p.photo.name for p in members] for name, members in splits.items()},
        "preset": args.preset,
        "settings": settings,
        "seed": args.seed,
        "command": command_line("vessels"),
        "torch": torch.__version__,
        "machine": describe(device, dist),
    }

    def working(pairs, desc):
        """Photos and masks at the segmenter's working scale (FOV spec.fov_diameter wide)."""
        import cv2

        items = []
        for pair in tqdm(pairs, desc=desc, file=sys.stderr):
            rgb, vessels, fov = pair.load()
            image = to_working(rgb, working_scale(analyse_field_of_view(rgb), spec.fov_diameter))
            size = (image.shape[1], image.shape[0])
            masks = [cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool) for m in (vessels, fov)]
            items.append((image, *masks))
        return items

    train_items = working(splits["train"], "preparing train pairs")
    val_items = working(splits["val"], "preparing validation pairs")
    dataset = PatchSampler([i[0] for i in train_items], [i[1] for i in train_items], [i[2] for i in train_items], [vessel_weight_map(i[1]) & i[2] for i in train_items], settings["patch"], settings["patches_per_epoch"], args.seed)
    workers = loader_workers(args.workers)

    model = VesselSegmenter(spec).to(device)
    trained = wrap(model, dist)  # DistributedDataParallel under torchrun
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings["epochs"])
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    state_path, best_path = out / "last.pt", out / "vessels.safetensors"
    first_epoch, best_dice, stale = 0, -1.0, 0
    state = resume_state(state_path, args.resume, model, optimizer, scheduler)
    if state is not None:
        first_epoch, best_dice, stale = state["epoch"] + 1, state["best_dice"], state["stale"]
        print(f"resuming after epoch {state['epoch']} (best validation Dice {best_dice:.4f})", file=sys.stderr)
    log = RunLog(out / "log.csv", ["epoch", "train_loss", "val_dice", "val_auc", "lr", "seconds"], resume=state is not None) if dist.main else None
    if log is not None:
        log.truncate_after(first_epoch)

    def validate():
        model.eval()
        probs = [predict_probability(model, rgb) for rgb, _, _ in val_items]
        truth = np.concatenate([v[f] for (_, v, f) in val_items])
        pooled = np.concatenate([p[f] for p, (_, _, f) in zip(probs, val_items)])
        return pooled, truth

    for epoch in range(first_epoch, settings["epochs"]):
        tick = time.time()
        dataset.set_epoch(epoch)
        # the patch draws depend only on (seed, epoch, index): each rank takes its share of the indices
        loader = DataLoader(dataset, batch_size=settings["batch_size"], sampler=share(list(range(len(dataset))), dist), num_workers=workers, worker_init_fn=worker_init)
        model.train()
        losses = []
        for x, y, m in tqdm(loader, desc=f"epoch {epoch + 1}/{settings['epochs']}", file=sys.stderr, leave=False, disable=not dist.main):
            x, y, m = x.to(device), y.to(device), m.to(device)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                logits = trained(x)
            loss = vessel_loss(logits.float(), y, m)
            optimizer_step(loss, optimizer, scaler)
            losses.append(loss.item())
        scheduler.step()
        if not dist.main:
            if broadcast_flag(False, dist):  # rank 0 validates and decides
                break
            continue
        pooled, truth = validate()
        report = segmentation_report(pooled, truth, np.ones_like(truth, bool))
        improved = report["dice"] > best_dice + 1e-6
        if improved:
            best_dice, stale = report["dice"], 0
            save_vessel_segmenter(model, best_path, half=args.half)
        else:
            stale += 1
        log.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_dice": report["dice"], "val_auc": report["auc"], "lr": optimizer.param_groups[0]["lr"], "seconds": time.time() - tick})
        plot_curves(log, out / "curves.png", "epoch", [("loss", ["train_loss"]), ("validation", ["val_dice", "val_auc"])])
        save_training_state(state_path, model, optimizer, scheduler, epoch, best_dice=best_dice, stale=stale)
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, val Dice {report['dice']:.4f}, AUC {report['auc']:.4f}{' *' if improved else ''}", file=sys.stderr)
        if end_of_epoch_stop(args, started, settings["patience"], stale, dist, "validation Dice"):
            break

    if not dist.main:
        finish(dist)
        return {}

    best = load_vessel_segmenter(best_path, device=device)
    model = best
    pooled, truth = validate()
    thresholds = np.round(np.arange(0.3, 0.71, 0.05), 2)
    dices = [segmentation_report(pooled, truth, np.ones_like(truth, bool), t, auc_pixels=1000)["dice"] for t in thresholds]
    best.spec.threshold = float(thresholds[int(np.argmax(dices))])
    test = {}
    per_dataset: dict[str, list] = {}
    for pair in tqdm(splits["test"], desc="testing", file=sys.stderr):
        rgb, vessels, fov = pair.load()
        probability = segment_vessels(best, rgb)  # the app's own path, on the original grid
        per_dataset.setdefault(pair.dataset, []).append((probability[fov], vessels[fov]))
    groups = {"all": [x for v in per_dataset.values() for x in v], **per_dataset}
    for name, items in groups.items():
        p = np.concatenate([a for a, _ in items])
        t = np.concatenate([b for _, b in items])
        test[name] = {"images": len(items), **segmentation_report(p, t, np.ones_like(t, bool), best.spec.threshold)}
    best.spec.metrics = {"validation_dice": best_dice, "threshold": best.spec.threshold, "test": test}
    best.spec.training["seconds"] = round(time.time() - started, 1)
    best.spec.training["epochs_run"] = len(log.rows())
    save_vessel_segmenter(best, best_path, half=args.half)
    (out / "metrics.json").write_text(json.dumps({"metrics": best.spec.metrics, "training": best.spec.training}, indent=1))
    for name, r in test.items():
        print(f"{name:<12} images {r['images']:>3}  Dice {r['dice']:.4f}  sens {r['sensitivity']:.4f}  spec {r['specificity']:.4f}  AUC {r['auc']:.4f}")
    finish(dist)
    return test


def vessel_loss(logits, target, mask):
    """BCE + soft Dice, both counted only inside the field of view."""
    import torch
    import torch.nn.functional as F

    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * mask).sum() / mask.sum().clamp(min=1)
    probability = torch.sigmoid(logits) * mask
    dice = 1 - (2 * (probability * target).sum() + 1) / (probability.sum() + (target * mask).sum() + 1)
    return bce + dice
