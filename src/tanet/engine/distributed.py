"""Process-group helpers for runs launched with ``torchrun`` (one node or many).

``torchrun --nproc_per_node N [--nnodes M --node_rank R --rdzv_endpoint HOST:PORT]
-m tanet train ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init_distributed`
reads them. Without them the run is a single process and every helper is a no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from tanet.errors import UsageError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_dist_info() -> DistInfo:
    """Rank information from the ``torchrun`` environment variables (defaults: 1 process)."""
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def init_distributed(device: torch.device, backend: str = "auto",
                     timeout_minutes: float = 30.0) -> DistInfo:
    """Join the process group described by the environment (if any) and return the ranks."""
    info = env_dist_info()
    if not info.enabled:
        return info
    if dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs = {}
    if backend == "nccl":
        kwargs["device_id"] = device
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=timeout_minutes),
                            **kwargs)
    return DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def available_devices() -> list[str]:
    """The ``--device`` values that can run here."""
    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names += ["cuda"] + [f"cuda:{index}" for index in range(count)]
    return names


def select_device(spec: str, info: DistInfo) -> torch.device:
    """``auto`` picks CUDA (the local rank's GPU) when available, else CPU; ``cuda`` without an index
    takes the local rank's GPU (one process per GPU, as torchrun starts them). A device that cannot run
    here is a usage error listing those that can."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device {spec!r}; available here: {', '.join(available_devices())}") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":  # mps, xpu, meta, ...: tanet runs on CPUs and CUDA GPUs
        raise UsageError(f"device {spec!r} is not supported (tanet runs on cpu and cuda); available here: "
                         f"{', '.join(available_devices())}")
    if not torch.cuda.is_available():
        raise UsageError(f"device {spec!r} requested but this torch sees no CUDA GPU "
                         f"(torch {torch.__version__}); available here: {', '.join(available_devices())}")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA GPU(s) are "
                         f"visible; available here: {', '.join(available_devices())}")
    if device.index is None:
        device = torch.device("cuda", info.local_rank % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


class ShardSampler(torch.utils.data.Sampler):
    """Evaluation sampler: process ``rank`` takes indices ``rank, rank + world, ...``.

    Unlike ``DistributedSampler`` it never pads with repeated samples, so metrics summed
    over processes count every video exactly once.
    """

    def __init__(self, length: int, rank: int = 0, world_size: int = 1):
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self):
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all processes (in place); identity in a single process."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


__all__ = [
    "DistInfo", "ShardSampler", "env_dist_info", "init_distributed", "cleanup_distributed", "available_devices",
    "select_device",
    "all_reduce_sum", "barrier",
]
