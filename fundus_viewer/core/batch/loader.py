"""Decoding and preparing photos in DataLoader worker processes, so the network never waits on JPEG,
DICOM, the field of view or the optic disc.

Each item comes back as a ``Prepared``: the model's input pixels and their ``InputTransform``, the
photo's size and DICOM tags, and the whole ``PreparedPhoto`` only where the task needs the photo itself
(the cup/disc segmenter, full-resolution maps, vessels). A photo that cannot be read comes back with
its error, as a row to record rather than an exception that would end the run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from fundus_viewer.core.batch.inputs import DataItem
from fundus_viewer.core.errors import FundusViewerError


@dataclass
class Prepared:
    index: int
    item: DataItem
    width: int = 0
    height: int = 0
    transform: object = None  # core.transform.InputTransform into the model input
    pixels: np.ndarray | None = None  # S x S x 3 uint8, what the model sees
    photo: object = None  # core.photo.PreparedPhoto, where the task asked for it
    dicom: dict = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


class PhotoDataset:
    """Items -> ``Prepared``. ``spec``: the model geometry (input_size, resize, crop, disc_diameters);
    None for tasks that need the photo only. ``keep_photo``: send the ``PreparedPhoto`` along."""

    def __init__(self, items: list[tuple[int, DataItem]], spec=None, keep_photo: bool = False):
        self.items, self.spec, self.keep_photo = items, spec, keep_photo

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, position: int) -> Prepared:
        from fundus_viewer.core.images import load_image
        from fundus_viewer.core.photo import PreparedPhoto

        index, item = self.items[position]
        started = time.perf_counter()
        out = Prepared(index, item)
        try:
            image = load_image(item.path, item.frame)
            photo = PreparedPhoto(image)
            out.width, out.height = photo.width, photo.height
            if image.dicom is not None:
                out.dicom = {
                    k: v
                    for k, v in image.dicom.as_dict().items()
                    if k in ("sop_instance_uid", "laterality", "acquired", "device", "modality")
                }
            if self.spec is not None:
                out.transform, out.pixels = photo.for_spec(self.spec)
            if self.keep_photo:
                out.photo = photo
        except FundusViewerError as exc:
            out.error = str(exc)
        except MemoryError:
            out.error = f"{item.path}: not enough memory to decode this photo"
        except Exception as exc:  # noqa: BLE001 - one photo's surprise is its row, not the run's end
            out.error = f"{item.path}: {type(exc).__name__}: {exc}"
        out.seconds = time.perf_counter() - started
        return out


def keep_as_list(batch: list[Prepared]) -> list[Prepared]:
    """The DataLoader's collate: the batch as it is (items differ in size; the runner stacks pixels)."""
    return batch


def worker_context():
    """Forked workers where fork is safe to use (Linux: they start in milliseconds, not the seconds a
    spawned one spends importing torch); spawned ones elsewhere."""
    import multiprocessing
    import sys

    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


@contextmanager
def opencv_pool_stopped(workers: int):
    """OpenCV's thread pool stopped while workers are forked, then restored. A child forked while the
    pool runs inherits its state without its threads, and hangs for ever if it reconfigures the pool
    (``cv2.setNumThreads`` in the child did); set to one thread in the parent at fork time, the children
    decode single-threaded, as workers should, without touching the pool."""
    import cv2

    if not workers:
        yield
        return
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def default_workers() -> int:
    """Loader processes: one per spare core of this process's share (at least one, at most four); none
    in a frozen app, whose worker processes would start the whole application again."""
    import os
    import sys

    if getattr(sys, "frozen", False):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    per_process = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))  # torchrun's processes share them
    return max(1, min(4, per_process - 1))
