"""Processes under ``torchrun --nproc_per_node N`` (one machine or several): which rank this is, the
process group (NCCL on GPUs, gloo on CPUs), and the few collective steps the trainer and the data-set
commands share. Outside torchrun every call is a no-op for rank 0 of 1.
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


def describe(device, info: Dist) -> str:
    """The device, and how many processes share the run (the log line and the checkpoint's record)."""
    import platform

    from fundus_viewer.core.device import describe_device

    return f"{platform.machine()} {describe_device(device)}" + (f" x {info.world} processes" if info.enabled else "")


def broadcast_flag(flag: bool, info: Dist) -> bool:
    """Rank 0's decision (stop early, out of time) for every rank."""
    if not info.enabled:
        return flag
    import torch
    import torch.distributed as dist

    backend = dist.get_backend()
    tensor = torch.tensor(
        [1 if flag else 0], device=torch.device("cuda", info.local_rank) if backend == "nccl" else "cpu"
    )
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


def broadcast_object(value, info: Dist):
    """Rank 0's ``value`` (any picklable object: a decision, an error message, a digest) on every rank."""
    if not info.enabled:
        return value
    import torch.distributed as dist

    box = [value if info.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def abort(info: Dist) -> None:
    """Leave the process group without waiting for the others (a rank that failed: a barrier here
    would pair with a barrier the others reach for another reason)."""
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
