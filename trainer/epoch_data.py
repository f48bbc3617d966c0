"""The base of every training set here: its draws depend on (seed, epoch, index) alone."""

from __future__ import annotations

from torch.utils.data import Dataset


class EpochDataset(Dataset):
    """Items drawn from ``numpy.random.default_rng((seed, epoch, index))``, so they are the same in any
    loader worker and on any rank; the training loop sets the epoch before each one."""

    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
