"""Plumbing every ``fundus-train`` command shares: options, error handling, resume, one optimiser step."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda")
    parser.add_argument("--workers", type=int, help="data-loader workers (default: 0 when frozen, else 1)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--half", action="store_true", help="store the checkpoint's weights as float16")
    parser.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this much wall-clock time, then test the best checkpoint")


def out_of_time(args, started: float) -> bool:
    """True once the run's wall-clock budget is spent (a lent GPU or a CI slot has a hard end)."""
    import time

    if args.max_minutes is None or time.time() - started < args.max_minutes * 60:
        return False
    print(f"time budget of {args.max_minutes:g} min spent; finishing the run", file=sys.stderr)
    return True


def run_main(name: str, parser: argparse.ArgumentParser, train, argv) -> int:
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


def end_of_epoch_stop(args, started: float, patience: int, stale: int, dist, what: str) -> bool:
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


def resume_state(path: Path, enabled: bool, model, optimizer, scheduler) -> dict | None:
    """Load model, optimiser and schedule from ``path`` when resuming; the rest of the state is returned."""
    from trainer.state import load_state

    if not enabled or not path.exists():
        return None
    state = load_state(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state


def save_training_state(path: Path, model, optimizer, scheduler, epoch: int, **extra) -> None:
    from trainer.state import save_state

    save_state(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch, **extra})


def optimizer_step(loss, optimizer, scaler) -> None:
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
