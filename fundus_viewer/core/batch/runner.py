"""The data-set loop every ``--data`` command shares: list, shard, decode in workers, run the task in
batches, record each photo at once, resume, merge.

A run's folder holds ``run.json`` (the task, its settings and a digest of the item list), the task's
outputs (``maps.zarr`` for heat maps), one journal per process and ``summary.csv``. With ``resume`` a
run continues where it stopped: every photo with a complete journal row (and, for heat maps, its maps
in the store, and every per-photo file) is skipped, every other one is (re)done, what an earlier
attempt left of its files removed first; a run whose settings or photos differ, or whose
``run.json`` or store has gone, is refused rather than mixed in. Under torchrun each rank takes every
WORLD-th pending photo; rank 0 checks and prepares the folder first, and its verdict (or its error)
reaches every rank; rank 0 merges the summary last.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from fundus_viewer.core.atomic import write_error_text
from fundus_viewer.core.batch.inputs import DataItem, DataSourceError
from fundus_viewer.core.batch.journal import Journal, read_rows, write_summary
from fundus_viewer.core.batch.loader import (
    PhotoDataset,
    Prepared,
    default_workers,
    keep_as_list,
    opencv_pool_stopped,
    worker_context,
)
from fundus_viewer.core.distributed import Dist, barrier, broadcast_object
from fundus_viewer.core.errors import FundusViewerError
from fundus_viewer.core.jsonsafe import json_safe

RUN_FILE = "run.json"
BASE_COLUMNS = ["index", "key", "path", "width", "height"]
TAIL_COLUMNS = ["seconds", "error"]


@dataclass
class RunResult:
    done: int  # photos recorded in this run (rank 0: all ranks')
    failed: int  # rows with an error in the whole summary (rank 0); this process's otherwise
    skipped: int  # complete before this run started
    seconds: float
    summary: Path | None  # rank 0's merged summary.csv


def run_dataset(
    task,
    items: list[DataItem],
    out: Path,
    batch_size: int = 16,
    workers: int | None = None,
    resume: bool = False,
    dist: Dist | None = None,
    progress: bool = True,
    retry_errors: bool = False,
) -> RunResult:
    """Run ``task`` (``core.batch.tasks``) over ``items`` into ``out``; see the module docstring."""
    from torch.utils.data import DataLoader, Dataset
    from tqdm import tqdm

    dist = dist or Dist()
    out = Path(out)
    started = time.perf_counter()
    record = {"task": task.name, "settings": task.settings(), "items": len(items), "items_sha256": _digest(items)}
    problem = None
    if dist.main:
        try:
            if _check_or_start(out, record, resume, task):
                task.create(out, [item.key for item in items])
            _write_run_file(out, record)
        except FundusViewerError as exc:
            problem = str(exc)
    # rank 0's verdict and photo list for everyone: a rank that listed other photos (a stale mount,
    # files added meanwhile) would store rows under the wrong indices
    problem, digest = broadcast_object((problem, record["items_sha256"]), dist)
    if problem is None and digest != record["items_sha256"]:
        problem = f"rank {dist.rank} lists other photos than rank 0 (is --data the same folder on every machine?)"
    if problem is not None:
        raise DataSourceError(problem)
    task.open(out)
    rows = read_rows(out)
    complete = {i for i, row in rows.items() if i < len(items) and not (retry_errors and row.get("error"))}
    complete -= task.missing(sorted(i for i in complete if not rows[i].get("error")))  # a row whose outputs are gone
    barrier(dist)  # every rank has read the same journals before any writes to them: the same shares
    pending = [i for i in range(len(items)) if i not in complete]
    mine = pending[dist.rank :: dist.world]
    _discard(task, mine)  # what a killed or failed attempt left of these photos' files: never taken as done
    journal = Journal(out, dist.rank)
    workers = default_workers() if workers is None else workers
    # DataLoader takes any map-style dataset (__getitem__ and __len__), but its stubs ask for a Dataset
    # subclass; PhotoDataset is not one so that importing the loader does not import torch.
    dataset = cast(Dataset[Prepared], PhotoDataset([(i, items[i]) for i in mine], task.spec, task.keep_photo))
    loader: DataLoader[Prepared] = DataLoader(
        dataset,
        batch_size=max(1, batch_size),
        num_workers=workers,
        collate_fn=keep_as_list,
        prefetch_factor=2 if workers else None,
        multiprocessing_context=worker_context() if workers else None,
    )
    done = failed = 0
    bar = tqdm(
        total=len(pending),
        unit="photo",
        desc=task.name,
        file=sys.stderr,
        disable=not (progress and dist.main),
        smoothing=0.1,
    )
    try:
        with opencv_pool_stopped(workers):
            batches = iter(loader)  # the workers start here
        for batch in batches:
            for row in process_batch(task, batch):
                try:
                    journal.append(row)
                except OSError as exc:  # a full disk: stop; every row written so far is whole
                    raise FundusViewerError(f"could not write to {journal.path}: {write_error_text(exc)}") from None
                done += 1
                failed += bool(row.get("error"))
            bar.update(len(batch) * dist.world)  # the other ranks move at about the same pace
    finally:
        bar.close()
        journal.close()
    barrier(dist)
    summary = None
    if dist.main:
        summary = write_summary(out, BASE_COLUMNS + task.columns + TAIL_COLUMNS)
        merged = read_rows(out)
        done = len(merged) - len(complete)
        failed = sum(1 for row in merged.values() if row.get("error"))
    return RunResult(done, failed, len(complete), time.perf_counter() - started, summary)


def process_batch(task, batch) -> list[dict]:
    """The rows of one batch. Should the task fail on the batch, each photo is tried alone, so that
    one photo's failure is its own row, never the end of the run (a full disk still ends it)."""
    ok = [p for p in batch if not p.error]
    started = time.perf_counter()
    try:
        results = dict(zip((p.index for p in ok), task.process(ok), strict=True)) if ok else {}
    except OSError as exc:
        raise FundusViewerError(f"could not write the outputs: {write_error_text(exc)}") from None
    except Exception:  # noqa: BLE001 - retried photo by photo below
        results = {}
        for p in ok:
            try:
                results[p.index] = task.process([p])[0]
            except OSError as exc:
                raise FundusViewerError(f"could not write the outputs: {write_error_text(exc)}") from None
            except Exception as exc:  # noqa: BLE001
                p.error = f"{p.item.path}: {task.name} failed: {type(exc).__name__}: {exc}"
                try:
                    _discard(task, [p.index])  # the files its try in the whole batch wrote: an error row has none
                except FundusViewerError as left:  # what stays is never taken as done: its row has an error
                    p.error += f" ({left})"
    share = (time.perf_counter() - started) / max(1, len(ok))
    rows = []
    for p in batch:
        row = {
            "index": p.index,
            "key": p.item.key,
            "path": p.item.path,
            "width": p.width or None,
            "height": p.height or None,
            **p.dicom,
        }
        if p.error:
            row["error"] = p.error
        else:
            row.update(json_safe(results[p.index]))  # a float16 overflow can make NaN or infinity
        row["seconds"] = round(p.seconds + (0 if p.error else share), 4)
        rows.append(row)
    return rows


def _discard(task, indices: list[int]) -> None:
    """The task's ``discard`` where it has per-photo files (a task without them need not define it)."""
    discard = getattr(task, "discard", None)
    if discard is not None:
        try:
            discard(indices)
        except OSError as exc:
            raise FundusViewerError(f"could not remove an earlier attempt's outputs: {write_error_text(exc)}") from None


def _digest(items: list[DataItem]) -> str:
    text = "\n".join(f"{item.key}\t{item.path}\t{item.frame}" for item in items)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_or_start(out: Path, record: dict, resume: bool, task) -> bool:
    """Whether the task's outputs must be created (a new run); raises where the folder cannot be used."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FundusViewerError(f"cannot create the output folder {out}: {exc.strerror}") from None
    previous = out / RUN_FILE
    rows = read_rows(out)
    if not resume:
        if previous.exists() or rows:
            raise DataSourceError(
                f"{out} holds a run already ({len(rows)} photo(s) recorded): add --resume to go on with it, "
                "or choose another --out"
            )
        return True
    if not previous.exists():
        if rows:
            raise DataSourceError(
                f"{out} has recorded photos but no {RUN_FILE}: it cannot be checked against this run; "
                "choose another --out"
            )
        return True
    try:
        before = json.loads(previous.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataSourceError(f"{previous} cannot be read; choose another --out") from None
    for what, key in (("task", "task"), ("settings", "settings"), ("photo list", "items_sha256")):
        if before.get(key) != record[key]:
            detail = f" ({before.get(key)} then, {record[key]} now)" if key != "items_sha256" else ""
            raise DataSourceError(
                f"{out}: --resume with a different {what} than the run there{detail}; "
                "use the same options and --data, or another --out"
            )
    if not task.exists(out):
        if rows:
            raise DataSourceError(f"{out}: the run's outputs have gone but its rows remain; choose another --out")
        return True
    return False


def _write_run_file(out: Path, record: dict) -> None:
    from fundus_viewer.core.atomic import atomic_write

    atomic_write(out / RUN_FILE, json.dumps(record, indent=1).encode("utf-8"))
