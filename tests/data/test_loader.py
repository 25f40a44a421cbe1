"""The epoch reaches the dataset inside persistent loader workers."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from tanet.data.loader import EpochAwareDataset, EpochTaggedSampler


class EpochEcho(Dataset):
    """Returns (index, epoch the dataset copy was told, a draw from the (epoch, index) seed)."""

    def __init__(self):
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return 6

    def __getitem__(self, index):
        draw = torch.rand(1, generator=torch.Generator().manual_seed(self.epoch * 100 + index))
        return index, self.epoch, float(draw)


def _epochs(num_workers):
    sampler = EpochTaggedSampler(DistributedSampler(EpochEcho(), num_replicas=1, rank=0, seed=3))
    loader = DataLoader(EpochAwareDataset(EpochEcho()), batch_size=3, sampler=sampler,
                        num_workers=num_workers, persistent_workers=num_workers > 0)
    seen = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        seen.append([(int(i), int(e), float(d)) for batch in loader for i, e, d in zip(*batch)])
    return seen


def test_persistent_workers_see_each_epoch():
    with_workers = _epochs(num_workers=2)
    assert [sorted({e for _, e, _ in epoch}) for epoch in with_workers] == [[0], [1]]
    # Same samples, order and random draws as loading in the main process.
    assert with_workers == _epochs(num_workers=0)
    # The shuffled order changes between epochs and covers every index once.
    orders = [[i for i, _, _ in epoch] for epoch in with_workers]
    assert orders[0] != orders[1] and sorted(orders[0]) == list(range(6))
