"""From datasets to batches: the :class:`Batch` every consumer unpacks, its collate function, and
the DataLoader wiring (worker threads and seeds, the epoch reaching persistent workers)."""
from __future__ import annotations

import multiprocessing
import os
import random
from typing import NamedTuple, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tanet.utils.process import init_worker_process, worker_context

__all__ = ["Batch", "collate_videos", "worker_init_fn", "EpochTaggedSampler", "EpochAwareDataset", "build_loader"]


class Batch(NamedTuple):
    """What a loader built here yields.

    ``clips``: float32 (N, C, T, H, W), or (N, V, C, T, H, W) for multi-view testing;
    ``labels``: int64 (N,); ``num_skipped``: samples of this batch dropped as unreadable.
    """

    clips: torch.Tensor
    labels: torch.Tensor
    num_skipped: int


def collate_videos(samples: Sequence) -> Batch:
    """Stack the good ``(clip, label)`` samples and count the ``None`` s (unreadable videos).

    If every sample is bad, ``clips`` and ``labels`` are empty tensors.
    """
    good = [item for item in samples if item is not None]
    num_skipped = len(samples) - len(good)
    if not good:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.long), num_skipped)
    clips = torch.stack([clip for clip, _ in good])
    labels = torch.tensor([label for _, label in good], dtype=torch.long)
    return Batch(clips, labels, num_skipped)


def worker_init_fn(worker_id: int) -> None:
    """One compute thread per loader worker (N workers use N cores, not N x cores), and Python /
    NumPy generators seeded from the worker's torch seed (augmentation itself is seeded by the
    dataset from (seed, epoch, index), whichever worker loads the sample).

    The worker dies with the process that started it (at once after its ``kill -9``, instead of
    torch's 5-second watchdog; until then it would hold what it inherited, such as a run folder's
    lock) and leaves Ctrl-C to it (:func:`tanet.utils.process.init_worker_process`). The kernel ties this
    to the thread that started the workers: iterate a loader from a thread that outlives it (the main
    thread, as the trainer does)."""
    parent = multiprocessing.parent_process()  # recorded at the start: the right pid even if it has died since
    init_worker_process(parent.pid if parent is not None else None)
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


class EpochTaggedSampler(Sampler):
    """Wraps a sampler to yield ``(epoch, index)``, so that the epoch reaches the dataset inside
    persistent loader workers (whose dataset copies never see a ``set_epoch`` of the main process)."""

    def __init__(self, sampler: Sampler):
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, index) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class EpochAwareDataset(Dataset):
    """Takes the ``(epoch, index)`` pairs of :class:`EpochTaggedSampler`."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


def build_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    sampler: Optional[Sampler] = None,
    shuffle: bool = False,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    persistent_workers: bool = False,
    prefetch_factor: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
) -> DataLoader:
    """A DataLoader yielding :class:`Batch` es, with :func:`worker_init_fn` in its workers."""
    kwargs = {}
    if num_workers > 0:
        kwargs["multiprocessing_context"] = worker_context()
        kwargs["persistent_workers"] = persistent_workers
        if prefetch_factor is not None:
            kwargs["prefetch_factor"] = prefetch_factor
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, shuffle=shuffle, num_workers=num_workers,
        collate_fn=collate_videos, worker_init_fn=worker_init_fn if num_workers > 0 else None,
        drop_last=drop_last, pin_memory=pin_memory, generator=generator, **kwargs,
    )
