"""``fundus-train classifier``: train the glaucoma classifier on labelled photos.

Presets:
- ``paper``: the paper's recipe. AlexNet-style net, photos to 280 px, random 227 px crops, random rotation
  in [0, 2 pi), Adam lr 1e-3, batch 8, 500 epochs.
- ``laptop``: the same network and crops, trained to a good model on a 2-core CPU in well under an hour:
  AdamW lr 1e-3 with a cosine schedule, batch 16, label smoothing 0.1, at most 40 epochs, early stopping.

Both classify what the app feeds the model: by default a square of 2.5 optic-disc diameters centred on
the disc (``--crop disc``), located by ``fundus_viewer.core.disc``; photos that are already disc crops are
used whole.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fundus_viewer.core.atomic import atomic_write
from trainer.common import Finished, add_run_options, command_line, run_main

if TYPE_CHECKING:
    import numpy as np
    import torch

    from fundus_viewer.core.models.classifier import ClassifierSpec
    from trainer.sources import Sample


@dataclass(frozen=True)
class Recipe:
    arch: str
    optimizer: str  # "adam" or "adamw"
    lr: float
    batch_size: int
    epochs: int
    patience: int
    weight_decay: float
    label_smoothing: float
    schedule: str  # "constant" or "cosine"
    input_size: int = 0  # set from the architecture (or --input-size) by _settings
    resize: int = 0


PRESETS = {
    "paper": Recipe(
        arch="alexnet",
        optimizer="adam",
        lr=1e-3,
        batch_size=8,
        epochs=500,
        patience=50,
        weight_decay=0.0,
        label_smoothing=0.0,
        schedule="constant",
    ),
    "laptop": Recipe(
        arch="alexnet",
        optimizer="adamw",
        lr=1e-3,
        batch_size=16,
        epochs=40,
        patience=10,
        weight_decay=1e-4,
        label_smoothing=0.1,
        schedule="cosine",
    ),
}
SIZES = {"alexnet": (227, 280), "resnet18": (224, 256)}
EXTERNAL_SIZE = (224, 256)  # torchvision's and timm's ImageNet recipe: resize 256, crop 224


def _arch(text: str) -> str:
    from fundus_viewer.core.models.architectures import check_architecture

    try:
        check_architecture(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train classifier", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        required=True,
        help="CSV manifest (path, label[, split, dataset, role]) or a folder with glaucoma/ and normal/",
    )
    parser.add_argument("--out", required=True, help="run folder: checkpoints, log.csv, curves.png, metrics.json")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="laptop")
    parser.add_argument(
        "--arch",
        type=_arch,
        metavar="ARCH",
        help="alexnet (the paper's), resnet18, or any classification network of torchvision "
        "(torchvision:NAME, e.g. torchvision:densenet121) or of timm where installed (timm:NAME). "
        "Trained from scratch: no pretrained weights are downloaded here (bring trained weights "
        "with fundus-viewer import-model)",
    )
    parser.add_argument("--input-size", type=int, help="network input side (default 227 for alexnet, 224 otherwise)")
    parser.add_argument(
        "--resize", type=int, help="photo square resized to this before the random crop (default 280 / 256)"
    )
    parser.add_argument("--width", type=float, default=1.0, help="AlexNet channel width multiplier")
    parser.add_argument(
        "--cdr-head",
        action="store_true",
        help="AlexNet: add the disc/cup head, trained on the expert masks the manifest links "
        "(role disc_mask, cup_mask)",
    )
    parser.add_argument(
        "--cdr-auxiliary",
        action="store_true",
        help="with --cdr-head: train the head as a second task only; its ratio stays out of the glaucoma "
        "logit, so the decision runs through conv5's channels and CAM can show it",
    )
    parser.add_argument(
        "--head",
        choices=("fc", "gap"),
        default="fc",
        help="AlexNet head: the paper's fc6/fc7 (fc) or global average "
        "pooling + one linear layer (gap: Grad-CAM is then the true CAM)",
    )
    parser.add_argument("--seg-weight", type=float, default=1.0, help="weight of the disc/cup segmentation loss")
    parser.add_argument("--crop", choices=("disc", "fov", "none"), default="disc")
    parser.add_argument(
        "--preprocess", choices=("none", "local-contrast"), default="none", help="colour normalisation inside the model"
    )
    parser.add_argument("--padding", choices=("zeros", "reflect"), default="zeros", help="AlexNet conv padding")
    parser.add_argument(
        "--mirror-context", action="store_true", help="fill training context beyond the photo by mirroring, not black"
    )
    parser.add_argument(
        "--circle",
        action="store_true",
        help="black out the input outside its inscribed circle (same border for every photo)",
    )
    parser.add_argument(
        "--balance",
        choices=("sqrt", "datasets", "none"),
        default="sqrt",
        help="draw each photo with weight 1/sqrt(its data set's size), 1/size (data sets equal), or uniformly",
    )
    parser.add_argument(
        "--camera-augment",
        action="store_true",
        help="imitate other cameras in training: colour cast, tone curve, "
        "defocus, vignetting, uneven illumination, JPEG (trainer/camera_augment.py)",
    )
    parser.add_argument(
        "--scale-jitter",
        type=float,
        default=1.1,
        help="random scale in [1/S, S] (the disc's size in pixels varies by camera; 1.1)",
    )
    parser.add_argument(
        "--specificity",
        type=float,
        default=0.85,
        help="the call's operating point, chosen on validation after training (0.85)",
    )
    parser.add_argument(
        "--hold-out",
        metavar="DATASET",
        help="leave-one-source-out: every photo of this data set is the test split, "
        "the others train and validate (the way recipes are compared here: see the model card)",
    )
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--patience", type=int, help="stop after this many epochs without a better validation AUC")
    add_run_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("classifier", build_parser(), train, argv)


def _settings(args: argparse.Namespace) -> Recipe:
    given = {k: getattr(args, k) for k in ("arch", "epochs", "batch_size", "lr", "patience")}
    settings = replace(PRESETS[args.preset], **{k: v for k, v in given.items() if v is not None})
    input_size, resize = SIZES.get(settings.arch, EXTERNAL_SIZE)
    if args.input_size is not None:
        # keep the preset's margin for the random crop (280 / 227) unless --resize says otherwise
        input_size, resize = args.input_size, int(round(args.input_size * resize / input_size))
    if args.resize is not None:
        resize = args.resize
    if resize < input_size:
        raise_data_error(f"--resize {resize} is smaller than the input size {input_size}")
    return replace(settings, input_size=input_size, resize=resize)


def train(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import torch
    from torch.utils.data import WeightedRandomSampler

    from fundus_viewer.core.models.checkpoint import save_classifier
    from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier
    from fundus_viewer.core.progress import counted
    from trainer.calibrate import predict
    from trainer.classifier_data import AugmentedCrops, context_for, load_context, load_eval_input, to_tensor
    from trainer.common import Hooks, Training, Validation, autocast, fit, start_devices
    from trainer.distributed import describe, wrap
    from trainer.sources import read_labelled_photos, split_samples

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = _settings(args)
    if not 0 < args.specificity <= 1:
        raise_data_error(f"--specificity {args.specificity}: a fraction in (0, 1]")
    dist, device = start_devices(args.seed, args.device)

    samples = split_samples(read_labelled_photos(args.data), seed=args.seed, hold_out=args.hold_out)
    by_split = {name: [s for s in samples if s.split == name] for name in ("train", "val", "test")}
    for name, members in by_split.items():
        if not members:
            raise_data_error(f"{args.data}: the {name} split is empty; add photos or give the manifest a split column")
    arch_options = _arch_options(args, settings.arch)
    counts = {
        name: dict(Counter(f"{s.dataset}/{'glaucoma' if s.label else 'normal'}" for s in members))
        for name, members in by_split.items()
    }
    spec = ClassifierSpec(
        arch=settings.arch,
        input_size=settings.input_size,
        resize=settings.resize,
        crop=args.crop,
        preprocess=args.preprocess,
        circle=args.circle,
        arch_options=arch_options,
        training={
            "data": str(args.data),
            "split_counts": counts,
            # which photo went where, so a sample's probability is never mistaken for a test result
            "split_files": {name: sorted(s.path.name for s in members) for name, members in by_split.items()},
            "preset": args.preset,
            "hold_out": args.hold_out,
            "settings": {
                **asdict(settings),
                "balance": args.balance,
                "mirror_context": args.mirror_context,
                "camera_augment": args.camera_augment,
                "scale_jitter": args.scale_jitter,
            },
            "seed": args.seed,
            "command": command_line("classifier"),
            "torch": torch.__version__,
            "machine": describe(device, dist),
        },
    )

    # the loader's own checks, before training: a model file the viewer would refuse is never made
    ClassifierSpec.from_dict(spec.to_dict(), "the options give a spec whose")
    try:  # built and traced before any photo is read: a network with nothing to visualise is refused now
        _ = GlaucomaClassifier(spec).cam_is_true_cam  # the trace is the check; the answer is not needed yet
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise_data_error(f"--arch {spec.arch} at {spec.input_size} px cannot be visualised: {exc}")

    scales = (1 / args.scale_jitter, args.scale_jitter)
    prepared = [
        load_context(s, spec, args.mirror_context, context_for(scales))
        for s in counted(by_split["train"], "preparing train photos")
    ]
    contexts = [context for context, _ in prepared]
    masks = [mask if args.cdr_head else None for _, mask in prepared]
    if args.cdr_head and not any(m is not None for m in masks):
        raise_data_error(f"{args.data}: --cdr-head needs training photos with disc_mask and cup_mask rows")
    evals = {
        name: torch.stack(
            [to_tensor(load_eval_input(s, spec)) for s in counted(by_split[name], f"preparing {name} photos")]
        )
        for name in ("val", "test")
    }
    labels = {name: np.array([s.label for s in by_split[name]]) for name in by_split}

    dataset = AugmentedCrops(
        contexts,
        list(labels["train"]),
        settings.input_size,
        settings.resize,
        args.seed,
        masks=masks,
        mask_size=_segmentation_size(spec),
        camera=args.camera_augment,
        scale_range=scales,
    )
    # Small data sets are drawn more often than their size alone would allow, so the big set of disc
    # crops does not drown the full photos.
    sizes = Counter(s.dataset for s in by_split["train"])
    power = {"sqrt": 0.5, "datasets": 1.0, "none": 0.0}[args.balance]
    weights = [float(sizes[s.dataset] ** -power) for s in by_split["train"]]

    model = GlaucomaClassifier(spec).to(device)
    trained = wrap(model, dist)  # DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    if settings.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler: torch.optim.lr_scheduler.LRScheduler
    if settings.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _epoch: 1.0)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    best_path = out / "classifier.safetensors"

    def draw(epoch: int) -> list[int]:
        # the same weighted draw on every rank (same seed); each rank trains on its share
        generator = torch.Generator().manual_seed(args.seed * 100003 + epoch)
        return list(WeightedRandomSampler(weights, len(weights), replacement=True, generator=generator))

    segmentation: list[torch.Tensor] = []  # the disc / cup logits of this step's forward pass

    @contextmanager
    def reading_segmentation() -> Iterator[None]:
        """With --cdr-head: the head's output through a forward hook, for this epoch's steps only."""
        if not args.cdr_head:
            yield
            return
        head = model.network.get_submodule("segmentation")
        hook = head.register_forward_hook(lambda _module, _inputs, output: segmentation.append(output))
        try:
            yield
        finally:
            hook.remove()
            segmentation.clear()

    def step(batch: list[torch.Tensor]) -> torch.Tensor:
        x, y, target, weight = batch
        x, y = x.to(device, non_blocking=True), y.to(device)
        segmentation.clear()
        with autocast(device):
            loss = criterion(trained(x), y)
        # with no masks in the batch the term is zero, but kept: every rank's graph must use the head
        if args.cdr_head and (dist.enabled or weight.sum() > 0):
            seg_loss = segmentation_loss(segmentation[-1].float(), target.to(device), weight.to(device))
            loss = loss + args.seg_weight * seg_loss
        return loss

    def validate(_epoch: int) -> Validation:
        val_probs, val_loss = predict(model, evals["val"], device, labels["val"])
        val = binary_summary(labels["val"], val_probs)
        return Validation(
            val["auc"],
            {"val_loss": val_loss, "val_auc": val["auc"], "val_accuracy": val["accuracy"]},
            f"val loss {val_loss:.4f}, val AUC {val['auc']:.4f}, acc {val['accuracy']:.3f}",
            metrics=val,
        )

    def save_best(epoch: int, validation: Validation) -> None:
        spec.metrics = {"validation": {"epoch": epoch + 1, **validation.metrics}}
        save_classifier(model, best_path, half=args.half)

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
            draw=draw,
            step=step,
            validate=validate,
            save_best=save_best,
            test=lambda run: _test_best(args, run, spec, by_split, evals, labels, device, out),
            columns=["val_loss", "val_auc", "val_accuracy"],
            panels=[("loss", ["train_loss", "val_loss"]), ("validation", ["val_auc", "val_accuracy"])],
            metric="validation AUC",
            best_key="best_auc",
            loss_label="train loss",
            drop_last=True,
            epoch_scope=reading_segmentation,
        ),
    )


def _arch_options(args: argparse.Namespace, arch: str) -> dict[str, Any]:
    """The network's options from --width, --padding, --cdr-head, --cdr-auxiliary and --head."""
    options: dict[str, Any] = {"width": args.width} if arch == "alexnet" and args.width != 1.0 else {}
    if args.padding != "zeros":
        if arch != "alexnet":
            raise_data_error("--padding is available for the AlexNet-style network only")
        options["padding_mode"] = args.padding
    if args.cdr_head:
        if arch != "alexnet":
            raise_data_error("--cdr-head is available for the AlexNet-style network only")
        options["cdr_head"] = True
        if args.cdr_auxiliary:
            options["cdr_in_logit"] = False
    elif args.cdr_auxiliary:
        raise_data_error("--cdr-auxiliary needs --cdr-head")
    if args.head != "fc":
        if arch != "alexnet":
            raise_data_error("--head is available for the AlexNet-style network only")
        options["head"] = args.head
    return options


def _test_best(
    args: argparse.Namespace,
    run: Finished,
    spec: ClassifierSpec,
    by_split: dict[str, list[Sample]],
    evals: dict[str, torch.Tensor],
    labels: dict[str, np.ndarray],
    device: torch.device,
    out: Path,
) -> dict[str, Any]:
    """The deliverable: the best checkpoint, calibrated on validation, with its test metrics written into it."""
    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier
    from trainer.calibrate import calibrated_test, eval_batches, fit_calibration, fit_ood, format_report

    best_path = out / "classifier.safetensors"
    best = load_classifier(best_path, device=device)
    calibration = fit_calibration(
        best,
        evals["val"],
        labels["val"],
        device,
        args.specificity,
        required=False,
        groups=[s.dataset for s in by_split["val"]],
    )
    print(f"calibrated: temperature {calibration.temperature:.3f}; {calibration.says()}", file=sys.stderr)
    report = calibrated_test(best, by_split["test"], evals["test"], device)
    fit_ood(best, eval_batches(by_split["train"], spec), evals["val"], device)
    best.spec.metrics = {**best.spec.metrics, "test": report}
    run.stamp(best.spec.training)
    save_classifier(best, best_path, half=args.half)
    atomic_write(
        out / "metrics.json",
        json.dumps(
            {"validation": best.spec.metrics.get("validation"), "test": report, "training": best.spec.training},
            indent=1,
        ),
    )
    print(format_report(report))
    return report


def _segmentation_size(spec: ClassifierSpec) -> int:
    """The side of the conv5 grid the disc/cup head predicts on (13 at 227 px)."""
    import torch

    from fundus_viewer.core.models.architectures import GlaucomaAlexNet

    if spec.arch != "alexnet":
        return 1
    # the class build_network("alexnet") builds, named here so its features can be sliced
    network = GlaucomaAlexNet(**{k: v for k, v in spec.arch_options.items() if k != "cdr_head"})
    with torch.no_grad():
        return int(network.features[:-1](torch.zeros(1, 3, spec.input_size, spec.input_size)).shape[-1])


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-pixel BCE of the disc and cup maps, counted only for photos that have expert masks."""
    import torch.nn.functional as F

    per_photo = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=(1, 2, 3))
    return (per_photo * weight).sum() / weight.sum().clamp(min=1)


def raise_data_error(message: str) -> NoReturn:
    from trainer.sources import DataError

    raise DataError(message)


def binary_summary(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    from fundus_viewer.core.classification_metrics import binary_report

    return binary_report(labels, probs)
