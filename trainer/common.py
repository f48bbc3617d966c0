"""Plumbing every ``fundus-train`` command shares: options, error handling, resume, one optimiser step,
and ``fit``, the epoch loop of the classifier, vessel and cup/disc trainers."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used: ``fundus-train CMD --help`` stays fast
    import torch
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler

    from fundus_viewer.core.distributed import Dist
    from trainer.epoch_data import EpochDataset


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda")
    parser.add_argument("--workers", type=int, help="data-loader workers (default: 0 when frozen, else 1)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--half", action="store_true", help="store the checkpoint's weights as float16")
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="stop after the epoch that passes this much wall-clock time, then test the best checkpoint",
    )


def out_of_time(args: argparse.Namespace, started: float) -> bool:
    """True once the run's wall-clock budget is spent (a lent GPU or a CI slot has a hard end)."""
    if args.max_minutes is None or time.time() - started < args.max_minutes * 60:
        return False
    print(f"time budget of {args.max_minutes:g} min spent; finishing the run", file=sys.stderr)
    return True


def run_main(
    name: str,
    parser: argparse.ArgumentParser,
    train: Callable[[argparse.Namespace], object],
    argv: Sequence[str] | None,
) -> int:
    """Parse, train, and turn data or checkpoint problems into one line and exit status 2."""
    from fundus_viewer.core.errors import FundusViewerError

    args = parser.parse_args(argv)
    try:
        train(args)
    except FundusViewerError as exc:
        print(f"fundus-train {name}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def loader_workers(requested: int | None) -> int:
    """Worker processes re-import the app when frozen; keep loading in-process there."""
    if requested is not None:
        return requested
    return 0 if getattr(sys, "frozen", False) else 1


def start_devices(seed: int, device: str) -> tuple[Dist, torch.device]:
    """Seed, then join the process group where torchrun started this process: the seed comes first, so
    every rank builds the same initial network."""
    import torch

    from trainer.distributed import describe, setup

    torch.manual_seed(seed)
    dist, chosen = setup(device)
    if dist.main:
        print(f"device: {describe(chosen, dist)}", file=sys.stderr)
    return dist, chosen


def autocast(device: torch.device) -> torch.autocast:
    """Float16 forward passes on CUDA; float32 elsewhere (the CPU gains nothing from them)."""
    import torch

    return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=device.type == "cuda")


def end_of_epoch_stop(
    args: argparse.Namespace, started: float, patience: int, stale: int, dist: Dist, what: str
) -> bool:
    """Rank 0's decision to stop (early stopping after ``patience`` epochs without a better ``what``, or
    the time budget), shared with every rank so they leave the loop together."""
    from trainer.distributed import broadcast_flag

    stop = bool(patience and stale >= patience)
    if stop:
        print(f"early stop: no better {what} for {stale} epochs", file=sys.stderr)
    return broadcast_flag(stop or out_of_time(args, started), dist)


def command_line(name: str) -> str:
    argv = sys.argv[2:] if sys.argv[1:2] == [name] else sys.argv[1:]
    return f"fundus-train {name} " + " ".join(argv)


def resume_state(
    path: Path,
    enabled: bool,
    model: torch.nn.Module,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    numbers: tuple[str, ...] = ("epoch",),
) -> dict[str, Any] | None:
    """Load model, optimiser and schedule from ``path`` when resuming; the rest of the state is returned
    (``numbers``: its keys that must hold a number). A state that does not fit this run (another --arch,
    a file from elsewhere) is a CheckpointError, never a half-loaded model."""
    from fundus_viewer.core.errors import CheckpointError
    from trainer.state import load_state

    if not enabled:
        return None
    if not path.exists():
        # a kill during the first checkpoint's write leaves none (atomic writes): say so, not silently
        print(f"--resume: no complete checkpoint in {path.parent}; starting from scratch", file=sys.stderr)
        return None
    state = load_state(path)
    missing = [key for key in ("model", "optimizer", "scheduler", *numbers) if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training state of this command (no {', '.join(missing)})")
    wrong = [key for key in numbers if isinstance(state[key], bool) or not isinstance(state[key], int | float)]
    if wrong:
        raise CheckpointError(f"{path}: damaged training state ({', '.join(wrong)} is not a number)")
    for part, target, hint in (
        ("model", model, "another --arch or network option than the run it was saved by"),
        ("optimizer", optimizer, "another optimiser or preset"),
        ("scheduler", scheduler, "another schedule or preset"),
    ):
        try:
            target.load_state_dict(state[part])
        except UNFIT_STATE as exc:
            raise unfit_state(path, f"its {part} does not fit this run ({hint}?)", exc) from None
    return state


# what load_state_dict and its kin raise on a state saved by another run
UNFIT_STATE = (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError)


def unfit_state(path: Path, what: str, exc: BaseException) -> Exception:
    """The one-line error for a training state that does not fit this run: what, and the first line of why."""
    from fundus_viewer.core.errors import CheckpointError

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return CheckpointError(
        f"{path}: {what}: {first[:160]}; resume with the options it was started with, or start a new --out"
    )


def save_training_state(
    path: Path,
    model: torch.nn.Module,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    epoch: int,
    **extra: object,
) -> None:
    from trainer.state import save_state

    save_state(
        path,
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            **extra,
        },
    )


def optimizer_step(loss: torch.Tensor, optimizer: Optimizer, scaler: torch.amp.GradScaler) -> None:
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


@dataclass
class Validation:
    """Rank 0's measure of one epoch on the validation split."""

    score: float  # decides the best epoch
    row: dict[str, float]  # log.csv's validation columns
    summary: str  # the validation part of the epoch's line on stderr
    metrics: dict[str, Any] = field(default_factory=dict)  # what the best checkpoint records of it


@dataclass
class Finished:
    """How the loop ended, for the final test of the best checkpoint."""

    best: float  # the best validation score
    epochs_run: int  # rows in log.csv, a resumed run's earlier epochs included
    started: float

    def stamp(self, training: dict[str, Any]) -> None:
        """Record the run's length in a checkpoint's training metadata."""
        training["seconds"] = round(time.time() - self.started, 1)
        training["epochs_run"] = self.epochs_run


@dataclass
class Hooks:
    """What one trainer does differently inside ``fit``."""

    draw: Callable[[int], list[int]]  # epoch -> the order of its samples, the same on every rank
    step: Callable[[Any], torch.Tensor]  # a batch -> its loss (forward pass included)
    validate: Callable[[int], Validation]  # epoch -> its validation (rank 0 only)
    save_best: Callable[[int, Validation], object]  # write the best checkpoint of a better epoch
    test: Callable[[Finished], dict[str, Any]]  # rank 0, after the loop: test the best checkpoint
    columns: list[str]  # log.csv's validation columns, between train_loss and lr
    panels: list[tuple[str, list[str]]]  # curves.png: (title, columns) per panel
    metric: str  # e.g. "validation AUC", in the resume and early-stop messages
    best_key: str  # the state file's name for the best score (e.g. "best_auc")
    higher_is_better: bool = True
    loss_label: str = "loss"  # the training loss's name in the epoch's line
    drop_last: bool = False  # drop a short last batch (where the epoch has more than one batch)
    # entered around each epoch's training steps (e.g. a forward hook that must not outlive the epoch)
    epoch_scope: Callable[[], AbstractContextManager[object]] = nullcontext


@dataclass
class Training:
    """The parts of one run that ``fit`` drives."""

    args: argparse.Namespace  # --resume, --workers, --max-minutes
    out: Path
    started: float
    dist: Dist
    device: torch.device
    model: torch.nn.Module  # the plain model (not its DistributedDataParallel wrapper): checkpoints hold it
    optimizer: Optimizer
    scheduler: LRScheduler
    dataset: EpochDataset
    epochs: int
    batch_size: int
    patience: int  # epochs without a better validation score before stopping; 0: never


def improved(score: float, best: float, higher_is_better: bool = True) -> bool:
    """Better by more than rounding noise; any number beats a NaN best."""
    if math.isnan(best):
        return not math.isnan(score)
    return score > best + 1e-6 if higher_is_better else score < best - 1e-6


def fit(run: Training, hooks: Hooks) -> dict[str, Any]:
    """Train ``run.model`` for ``run.epochs`` epochs, resuming from OUT/last.pt with --resume, and return
    the final test's result (``{}`` on ranks other than 0).

    Each epoch: every rank trains on its share of the epoch's draw; rank 0 alone validates, keeps the
    best checkpoint, logs, saves the resumable state, and decides whether to stop (patience or time),
    a decision every rank receives so they leave the loop together.
    """
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from fundus_viewer.core.progress import counted
    from trainer.classifier_data import worker_init
    from trainer.distributed import broadcast_flag, finish, share
    from trainer.runlog import RunLog, plot_curves

    args, dist, model, optimizer, scheduler = run.args, run.dist, run.model, run.optimizer, run.scheduler
    scaler = torch.amp.GradScaler("cuda", enabled=run.device.type == "cuda")
    workers = loader_workers(args.workers)
    state_path = run.out / "last.pt"
    first_epoch, best, stale = 0, (-1.0 if hooks.higher_is_better else math.inf), 0
    state = resume_state(state_path, args.resume, model, optimizer, scheduler, ("epoch", hooks.best_key, "stale"))
    if state is not None:
        first_epoch, best, stale = state["epoch"] + 1, state[hooks.best_key], state["stale"]
        print(f"resuming after epoch {state['epoch']} (best {hooks.metric} {best:.4f})", file=sys.stderr)
    fields = ["epoch", "train_loss", *hooks.columns, "lr", "seconds"]
    log = RunLog(run.out / "log.csv", fields, resume=state is not None) if dist.main else None
    if log is not None:
        log.truncate_after(first_epoch)  # rows are 1-based epochs; the state holds 0-based ones

    for epoch in range(first_epoch, run.epochs):
        tick = time.time()
        run.dataset.set_epoch(epoch)
        order = share(hooks.draw(epoch), dist)
        loader = DataLoader(
            run.dataset,
            batch_size=run.batch_size,
            sampler=order,
            num_workers=workers,
            worker_init_fn=worker_init,
            drop_last=hooks.drop_last and len(order) > run.batch_size,
        )
        model.train()
        losses = []
        with hooks.epoch_scope():
            for batch in counted(loader, f"epoch {epoch + 1}/{run.epochs}", enabled=dist.main, leave=False):
                loss = hooks.step(batch)
                optimizer_step(loss, optimizer, scaler)
                losses.append(loss.item())
        scheduler.step()
        if log is None:
            # not rank 0: it validates, logs and saves; the others wait for its decision to go on or stop
            if broadcast_flag(False, dist):
                break
            continue
        validation = hooks.validate(epoch)
        better = improved(validation.score, best, hooks.higher_is_better)
        if better:
            best, stale = validation.score, 0
            hooks.save_best(epoch, validation)
        else:
            stale += 1
        log.append(
            {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                **validation.row,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.time() - tick,
            }
        )
        plot_curves(log, run.out / "curves.png", "epoch", hooks.panels)
        save_training_state(state_path, model, optimizer, scheduler, epoch, **{hooks.best_key: best, "stale": stale})
        mark = " *" if better else ""
        print(
            f"epoch {epoch + 1}: {hooks.loss_label} {np.mean(losses):.4f}, {validation.summary}{mark}", file=sys.stderr
        )
        if end_of_epoch_stop(args, run.started, run.patience, stale, dist, hooks.metric):
            break

    if log is None:
        finish(dist)
        return {}
    result = hooks.test(Finished(best, len(log.rows()), run.started))
    finish(dist)
    return result
