"""Options and set-up shared by the headless commands."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.methods import METHOD_KEYS


class UsageError(FundusViewerError):
    """Options that cannot go together: said as "fundus-viewer CMD: error: ...", exit status 2 (as
    argparse's own usage errors)."""


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", metavar="CKPT", help="classifier checkpoint (.safetensors); default: the bundled one"
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda")


def add_map_options(parser: argparse.ArgumentParser, note: str = "") -> None:
    """--methods and --colormap, as every command that draws maps takes them."""
    from fundus_viewer.core.drawing_colours import HEAT_COLORMAPS

    parser.add_argument(
        "--methods", default="pathology", help=f"comma-separated: pathology,cam,gbp,smoothgrad,occlusion{note}"
    )
    parser.add_argument("--colormap", choices=HEAT_COLORMAPS, default=HEAT_COLORMAPS[0])


def add_cup_disc_options(parser: argparse.ArgumentParser) -> None:
    """The vertical cup-to-disc ratio's segmenter (read by ``cup_disc_wanted``)."""
    parser.add_argument(
        "--cup-disc-model",
        help="optic disc / cup segmenter for the vertical cup-to-disc ratio; default: the bundled one",
    )
    parser.add_argument("--no-cup-disc", action="store_true", help="skip the cup-to-disc ratio")


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--theta-act",
        type=float,
        default=0.1,
        help="activation threshold, fraction of the layer's largest L1 norm (0.1)",
    )
    parser.add_argument("--cmi-low", type=float, default=0.1, help="normalised CMI below this: RNFLD set (0.1)")
    parser.add_argument("--cmi-high", type=float, default=0.9, help="normalised CMI above this: RL set (0.9)")
    parser.add_argument(
        "--cmi-normalization",
        choices=("rank", "max"),
        default="rank",
        help=(
            "how CMI is scaled to [0, 1] within a layer: rank among the active maps (default) "
            "or fraction of the largest"
        ),
    )
    parser.add_argument("--layers", help="comma-separated layer names (default: the model's last conv layers)")


def parse_methods(text: str) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.strip().lower() for m in text.split(",") if m.strip()))  # once each, in order
    unknown = [m for m in methods if m not in METHOD_KEYS]
    if unknown or not methods:
        raise UsageError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHOD_KEYS)}")
    return methods


def thresholds_from(args: argparse.Namespace):
    from fundus_viewer.core.visualization.selection import Thresholds

    try:
        return Thresholds(args.theta_act, args.cmi_low, args.cmi_high, args.cmi_normalization)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cup_disc_wanted(args: argparse.Namespace) -> bool:
    """classify's rule: the bundled cup/disc segmenter unless --no-cup-disc, or the one named."""
    from fundus_viewer.core.cup_disc import default_cup_disc_path

    return not getattr(args, "no_cup_disc", False) and bool(args.cup_disc_model or default_cup_disc_path().exists())


def open_visualizer(args: argparse.Namespace, device: torch.device | None = None):
    """Load the model on the chosen device (``device``: one chosen already, said already) and say which."""
    from fundus_viewer.core.device import describe_device, select_device
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.visualization.pathology import PathologyVisualizer

    if device is None:
        device = select_device(args.device)
        print(f"device: {describe_device(device)}", file=sys.stderr)
    model = load_classifier(args.model, device=device)
    layers = [name.strip() for name in args.layers.split(",")] if getattr(args, "layers", None) else None
    try:
        return PathologyVisualizer(model, layers=layers, device=device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def make_output_dir(path: str):
    """The output folder, created if needed; a clear message when that is impossible."""
    from pathlib import Path

    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FundusViewerError(f"cannot create the output folder {out}: {exc.strerror}") from None
    return out


def distinct_photos(paths) -> list[str]:
    """``paths`` less a photo given again (by the same or another path), said once per repeat."""
    import os
    import sys

    seen, kept = set(), []
    for path in paths:
        try:
            info = os.stat(path)
            identity: object = (info.st_dev, info.st_ino)
        except OSError:  # not there: its error comes when it is read
            identity = os.path.normcase(os.path.realpath(path))
        if identity in seen:
            print(f"{path}: given more than once, processed once", file=sys.stderr)
            continue
        seen.add(identity)
        kept.append(path)
    return kept


STEM_HELP = (
    "STEM is the photo's name without its suffix; only where photos share one does it depend on the other "
    "photos given: their path below a common folder, suffix kept, made portable and short "
    "(a/x.jpg, b/x.jpg -> a__x.jpg, b__x.jpg). A photo given twice is processed once."
)


def unique_stems(paths) -> list[str]:
    """The name each photo's output files start with (``STEM_HELP``): its stem where no other photo
    given has it (compared case-blind, as on Windows and macOS); where several do, the path below their
    common folder, with the suffix, as ``tasks.portable_name`` (``a/x.jpg``, ``b/x.jpg``, ``a/x.png`` ->
    ``a__x.jpg``, ``b__x.jpg``, ``a__x.png``); ``-2``, ``-3`` after a name that is still taken."""
    import os
    from collections import Counter, defaultdict
    from pathlib import Path

    from fundus_viewer.core.batch.tasks import portable_name

    absolute = [Path(os.path.abspath(p)) for p in paths]
    names = [portable_name(p.stem, 200) if len(p.stem.encode("utf-8")) > 200 else p.stem for p in absolute]
    groups = defaultdict(list)
    for i, name in enumerate(names):
        groups[name.casefold()].append(i)
    for group in (g for g in groups.values() if len(g) > 1):
        try:
            root = Path(os.path.commonpath([absolute[i].parent for i in group]))
        except ValueError:  # Windows: photos on different drives
            root = None
        for i in group:
            below = absolute[i].relative_to(root) if root else Path(*absolute[i].parts[1:])
            names[i] = portable_name(below.as_posix())
    taken: Counter[str] = Counter()
    for i, name in enumerate(names):
        unique, n = name, 1
        while taken[unique.casefold()]:
            n += 1
            unique = f"{name}-{n}"
        taken[unique.casefold()] += 1
        names[i] = unique
    return names


def add_data_options(parser: argparse.ArgumentParser, amp: bool = True) -> None:
    """``--data`` (a manifest, a folder or DICOM files; the photo list's alternative) and its run options."""
    group = parser.add_argument_group("whole data sets (--data)")
    group.add_argument(
        "--data",
        nargs="+",
        metavar="MANIFEST|FOLDER",
        help="photos from a manifest (CSV with a path column), a folder (recursive; "
        "photos and DICOM) or DICOM files; writes OUT/summary.csv, one row per photo",
    )
    group.add_argument("--batch-size", type=int, default=16, help="photos per network pass (16)")
    group.add_argument("--workers", type=int, help="decoding processes (default: one per spare core, at most 4)")
    group.add_argument(
        "--resume", action="store_true", help="continue the run in --out: skip the photos it recorded, redo the rest"
    )
    group.add_argument(
        "--retry-errors", action="store_true", help="with --resume: try the photos that failed again too"
    )
    if amp:
        group.add_argument(
            "--no-amp",
            action="store_true",
            help="on CUDA, run the whole network in float32 (default: float16 below the analysed layers)",
        )
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


DATA_ONLY = ("resume", "retry_errors", "no_amp", "full_maps", "cup_disc", "workers")


def check_photos_or_data(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if bool(args.images) == bool(args.data):
        parser.error(
            "give photos or --data (a manifest or folder), not both"
            if args.images
            else "give photos or --data MANIFEST|FOLDER"
        )
    if args.data:
        if not getattr(args, "out", None):
            parser.error("--data needs --out DIR (where summary.csv and the outputs go)")
        if args.batch_size < 1 or (args.workers is not None and args.workers < 0):
            parser.error("--batch-size must be at least 1 and --workers at least 0")
        if args.retry_errors and not args.resume:
            parser.error("--retry-errors goes with --resume")
        if getattr(args, "json", False):
            parser.error("--json is for photos named on the command line; --data writes OUT/summary.csv")
    else:
        given = [name for name in DATA_ONLY if getattr(args, name, None) not in (None, False)]
        if given:
            parser.error(f"--{given[0].replace('_', '-')} goes with --data")


def run_on_data(args: argparse.Namespace, make_task: Callable[[torch.device], object]) -> int:
    """The ``--data`` form of a command: ``make_task(device)`` builds the task once the process knows
    its device (under torchrun, its rank's); the runner does the rest. Exit status 1 when any photo of
    the whole run (this session's or an earlier one's) has an error."""
    from pathlib import Path

    from fundus_viewer.core.batch.inputs import DataSourceError, collect_items
    from fundus_viewer.core.batch.runner import run_dataset
    from fundus_viewer.core.distributed import abort, describe, finish, setup

    items = collect_items(args.data, exclude=Path(args.out))
    if not items:
        raise DataSourceError(f"no photos in {', '.join(args.data)}")
    dist, device = setup(args.device)
    if dist.main:
        print(f"device: {describe(device, dist)}", file=sys.stderr)
    try:
        task = make_task(device)
        result = run_dataset(
            task,
            items,
            Path(args.out),
            args.batch_size,
            args.workers,
            args.resume,
            dist,
            progress=not args.no_progress,
            retry_errors=args.retry_errors,
        )
    except BaseException:
        abort(dist)  # the other ranks are not at the barrier finish() would wait in
        raise
    finish(dist)
    if dist.main:
        rate = result.done / result.seconds if result.seconds else 0.0
        skipped = f"; {result.skipped} recorded before, skipped" if result.skipped else ""
        print(
            f"{result.done} photo(s) in {result.seconds:.1f} s ({rate:.2f} photos/s); "
            f"{result.failed} with errors in the summary{skipped} -> {result.summary}",
            file=sys.stderr,
        )
    return 1 if result.failed else 0
