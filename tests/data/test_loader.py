"""The epoch reaches the dataset inside persistent loader workers; the workers die with their parent
and leave Ctrl-C to it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from tanet.data.loader import EpochAwareDataset, EpochTaggedSampler
from utils.processes import children, running


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


LOADING = """
import os, sys, time
import torch
from tanet.data.loader import build_loader
from tanet.utils.locking import FileLock

class Zeros(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, index):
        return torch.zeros(2), 0

lock = FileLock(sys.argv[1]).acquire()  # as a training run holds its run folder
for batch in build_loader(Zeros(), 2, num_workers=2):
    print("loading", flush=True)
    time.sleep(60)  # a training step: the workers have loaded ahead and wait for the next indices
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_loader_workers_die_with_a_killed_parent_and_free_its_lock(tmp_path):
    from tanet.utils.locking import FileLock

    path = tmp_path / ".lock"
    parent = subprocess.Popen([sys.executable, "-c", LOADING, str(path)], stdout=subprocess.PIPE, text=True)
    workers = set()
    try:
        assert parent.stdout.readline().strip() == "loading"
        workers = children(parent.pid)
        assert len(workers) >= 2
        time.sleep(0.5)  # the workers have loaded ahead and wait
        parent.kill()  # kill -9 of a run with loader workers
        parent.wait()
        killed = time.monotonic()
        while time.monotonic() - killed < 10 and any(running(pid) for pid in workers):
            time.sleep(0.02)
        # torch's own watchdog notices a dead parent only after 5 s; the kernel's signal is immediate
        assert not [pid for pid in workers if running(pid)] and time.monotonic() - killed < 1.5
        with FileLock(path) as lock:
            assert lock.held
    finally:
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
