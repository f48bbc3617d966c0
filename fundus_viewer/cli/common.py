"""Options and set-up shared by the headless commands."""

from __future__ import annotations

import argparse
import sys

METHOD_NAMES = ("pathology", "cam", "gbp", "smoothgrad", "occlusion")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="CKPT", help="classifier checkpoint (.safetensors); default: the bundled one")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda")


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theta-act", type=float, default=0.1, help="activation threshold, fraction of the layer's largest L1 norm (0.1)")
    parser.add_argument("--cmi-low", type=float, default=0.1, help="normalised CMI below this: RNFLD set (0.1)")
    parser.add_argument("--cmi-high", type=float, default=0.9, help="normalised CMI above this: RL set (0.9)")
    parser.add_argument("--cmi-normalization", choices=("rank", "max"), default="rank", help="how CMI is scaled to [0, 1] within a layer: rank among the active maps (default) or fraction of the largest")
    parser.add_argument("--layers", help="comma-separated layer names (default: the model's last conv layers)")


def parse_methods(text: str) -> tuple[str, ...]:
    methods = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown or not methods:
        raise SystemExit(f"error: unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHOD_NAMES)}")
    return methods


def thresholds_from(args):
    from fundus_viewer.core.visualization.selection import Thresholds

    try:
        return Thresholds(args.theta_act, args.cmi_low, args.cmi_high, args.cmi_normalization)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def open_visualizer(args):
    """Load the model on the chosen device and say which device that is."""
    from fundus_viewer.core.device import describe_device, select_device
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    device = select_device(args.device)
    print(f"device: {describe_device(device)}", file=sys.stderr)
    model = load_classifier(args.model, device=device)
    layers = [name.strip() for name in args.layers.split(",")] if getattr(args, "layers", None) else None
    try:
        return PathologyVisualizer(model, layers=layers, device=device)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def make_output_dir(path: str):
    """The output folder, created if needed; a clear message when that is impossible."""
    from pathlib import Path

    from fundus_viewer.core.errors import FundusViewerError

    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FundusViewerError(f"cannot create the output folder {out}: {exc.strerror}") from None
    return out
