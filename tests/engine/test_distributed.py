"""Two-process DDP on CPU with the gloo backend (the torchrun environment, spawned)."""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from tanet.checkpoint import load_checkpoint_file
from tanet.engine import load_config

from .conftest import CONFIGS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, overrides: list, out_dir: str) -> None:
    # What torchrun sets for each process.
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import tanet
    from tanet.engine import train

    config = load_config(CONFIGS / "cpu_tiny.yaml", overrides)
    model = tanet.create_model("tanet_r18", num_classes=4, num_segments=4, width=0.125)
    result = train(config, model=model)
    torch.save({"model": model.state_dict(), "history": result.history},
               os.path.join(out_dir, f"rank{rank}.pt"))


@pytest.mark.slow  # two fresh interpreters importing torch: ~15 s of CPU
def test_two_process_gloo_run(tiny_videos, tmp_path):
    run = tmp_path / "run"
    overrides = [f"data.root={tiny_videos.root}", f"data.train_list={tiny_videos.train_list}",
                 f"data.val_list={tiny_videos.val_list}",
                 "schedule.epochs=1", f"runtime.out={run}", "runtime.progress=false",
                 "runtime.dist_backend=gloo"]
    mp.start_processes(_worker, args=(2, _free_port(), overrides, str(tmp_path)), nprocs=2,
                       join=True, start_method="spawn")
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # Gradients were all-reduced (equal weights); BN statistics were given rank 0's
    # values before validation (equal buffers).
    for key, value in rank0["model"].items():
        assert torch.equal(value, rank1["model"][key]), key
    # Both ranks report the same, reduced numbers: 48 training clips in 2 x 6 steps of 4.
    record = rank0["history"][0]
    for key in ("train_loss", "train_top1", "val_top1", "val_top5", "val_mean_class_acc", "val_loss"):
        assert record[key] == rank1["history"][0][key], key
    assert record["train_top1"] * 48 / 100 == pytest.approx(round(record["train_top1"] * 48 / 100))

    # The reduced validation accuracy is that of the full val set (12 videos split 6 + 6):
    # evaluate rank 0's checkpoint in this one process and compare.
    checkpoint = load_checkpoint_file(run / "last.pt")
    assert checkpoint["epoch"] == 1 and len(checkpoint["rng_per_rank"]) == 2
    from tanet.engine.testing import test_checkpoint

    metrics = test_checkpoint(run / "last.pt", tiny_videos.val_list, tiny_videos.root, progress=False)
    assert metrics["num_samples"] == 12
    assert metrics["top1"] == pytest.approx(record["val_top1"])
    assert metrics["mean_class_acc"] == pytest.approx(record["val_mean_class_acc"])
