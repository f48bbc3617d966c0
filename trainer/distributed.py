"""Running a ``fundus-train`` command under ``torchrun --nproc_per_node N`` without changing it.

torchrun sets WORLD_SIZE / RANK / LOCAL_RANK; with more than one process each joins a process group
(NCCL on GPUs, gloo on CPUs), trains a DistributedDataParallel copy of the model on its own share of
every epoch's draws, and only rank 0 validates, logs, writes checkpoints and prints. Checkpoints hold
the plain (unwrapped) model, so a run resumes with any number of processes, or none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device_arg: str):
    """(Dist, device). Outside torchrun: rank 0 of 1, the device ``select_device`` picks."""
    import torch

    from fundus_viewer.core.device import select_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), select_device(device_arg)
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_arg != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # rank 0 alone tests, calibrates and builds the OOD bank at the end while the others wait in
        # finish()'s barrier: minutes on a large data set, more than NCCL's default 10-minute timeout
        from datetime import timedelta

        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(hours=2))
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank), device


def wrap(model, info: Dist):
    """DDP around ``model`` when distributed; the model itself otherwise."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [info.local_rank] if next(model.parameters()).is_cuda else None
    return DistributedDataParallel(model, device_ids=device_ids)


def describe(device, info: Dist) -> str:
    """The device, and how many processes share the run (the log line and the checkpoint's record)."""
    import platform

    from fundus_viewer.core.device import describe_device

    return f"{platform.machine()} {describe_device(device)}" + (f" x {info.world} processes" if info.enabled else "")


def share(indices: list[int], info: Dist) -> list[int]:
    """This process's share of an epoch's draws (every rank drew the same list from the same seed);
    padded by wrapping so every rank runs the same number of steps."""
    if not info.enabled:
        return indices
    per_rank = -(-len(indices) // info.world)
    padded = (indices * (per_rank * info.world // max(1, len(indices)) + 1))[: per_rank * info.world]
    return padded[info.rank :: info.world]


def broadcast_flag(flag: bool, info: Dist) -> bool:
    """Rank 0's decision (stop early, out of time) for every rank."""
    if not info.enabled:
        return flag
    import torch
    import torch.distributed as dist

    backend = dist.get_backend()
    tensor = torch.tensor([1 if flag else 0], device=torch.device("cuda", info.local_rank) if backend == "nccl" else "cpu")
    dist.broadcast(tensor, 0)
    return bool(tensor.item())


def barrier(info: Dist) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def finish(info: Dist) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
