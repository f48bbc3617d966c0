"""Running a ``fundus-train`` command under ``torchrun --nproc_per_node N`` without changing it.

torchrun sets WORLD_SIZE / RANK / LOCAL_RANK; with more than one process each joins a process group
(NCCL on GPUs, gloo on CPUs), trains a DistributedDataParallel copy of the model on its own share of
every epoch's draws, and only rank 0 validates, logs, writes checkpoints and prints. Checkpoints hold
the plain (unwrapped) model, so a run resumes with any number of processes, or none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# the process group and its collectives live in the core, shared with the data-set commands
from fundus_viewer.core.distributed import Dist, barrier, broadcast_flag, describe, finish, setup

if TYPE_CHECKING:
    import torch

__all__ = ["Dist", "barrier", "broadcast_flag", "describe", "finish", "setup", "share", "wrap"]


def wrap(model: torch.nn.Module, info: Dist) -> torch.nn.Module:
    """DDP around ``model`` when distributed; the model itself otherwise."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [info.local_rank] if next(model.parameters()).is_cuda else None
    return DistributedDataParallel(model, device_ids=device_ids)


def share(indices: list[int], info: Dist) -> list[int]:
    """This process's share of an epoch's draws (every rank drew the same list from the same seed);
    padded by wrapping so every rank runs the same number of steps."""
    if not info.enabled:
        return indices
    per_rank = -(-len(indices) // info.world)
    padded = (indices * (per_rank * info.world // max(1, len(indices)) + 1))[: per_rank * info.world]
    return padded[info.rank :: info.world]
