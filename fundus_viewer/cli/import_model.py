"""``fundus-viewer import-model WEIGHTS --arch torchvision:NAME --out MODEL.safetensors``: your own classifier."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _floats(text: str) -> tuple[float, float, float]:
    values = tuple(float(v) for v in text.split(","))
    if len(values) != 3:
        raise argparse.ArgumentTypeError("three comma-separated numbers, R,G,B")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-viewer import-model",
        description="Turn a state dict of a torchvision (or timm) classification network into a Fundus Viewer "
        "checkpoint with a model card. .pt/.pth files are read weights-only: a file that would need code to "
        "unpickle is refused and nothing in it runs. No weights are downloaded.",
    )
    parser.add_argument(
        "weights",
        metavar="WEIGHTS",
        help=(
            "state dict: .pt / .pth / .bin or .safetensors (a checkpoint dict with state_dict / model / "
            "model_state_dict is unwrapped; DataParallel's module. is stripped)"
        ),
    )
    parser.add_argument(
        "--arch", required=True, help="torchvision:NAME (torchvision.models.list_models()) or timm:NAME"
    )
    parser.add_argument("--out", required=True, metavar="MODEL.safetensors")
    parser.add_argument("--classes", default="normal,glaucoma", help="the output classes in order (normal,glaucoma)")
    parser.add_argument("--glaucoma-class", default="glaucoma", help="which class is glaucoma (glaucoma)")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--resize", type=int, help="resize the photo's square to this, then centre-crop --input-size")
    parser.add_argument("--mean", type=_floats, default=None, help="R,G,B normalisation mean (ImageNet's)")
    parser.add_argument("--std", type=_floats, default=None, help="R,G,B normalisation std (ImageNet's)")
    parser.add_argument(
        "--crop",
        choices=("fov", "disc", "none"),
        default="fov",
        help="what the network sees: the field of view, a disc-centred square, or the whole photo",
    )
    parser.add_argument("--layers", help="comma-separated layers to visualise (default: traced, the last three stages)")
    parser.add_argument(
        "--card", metavar="NOTES.md", help="your notes for the model card: data, split, figures, weaknesses"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from fundus_viewer.core.models.classifier import IMAGENET_MEAN, IMAGENET_STD
    from fundus_viewer.core.models.importing import import_classifier

    notes = Path(args.card).read_text(encoding="utf-8") if args.card else ""
    imported = import_classifier(
        args.weights,
        args.arch,
        args.out,
        classes=tuple(c.strip() for c in args.classes.split(",") if c.strip()),
        glaucoma_class=args.glaucoma_class,
        input_size=args.input_size,
        resize=args.resize,
        mean=args.mean or IMAGENET_MEAN,
        std=args.std or IMAGENET_STD,
        crop=args.crop,
        layers=tuple(n.strip() for n in args.layers.split(",")) if args.layers else (),
        notes=notes,
    )
    model = imported.model
    print(
        f"{imported.path}: {model.spec.arch}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters",
        file=sys.stderr,
    )
    print(
        f"visualised layers: {', '.join(model.default_layers)}; CAM layer {model.cam_layer} "
        f"({'true CAM' if model.cam_is_true_cam else 'Grad-CAM'}); card {imported.card}",
        file=sys.stderr,
    )
    return 0
