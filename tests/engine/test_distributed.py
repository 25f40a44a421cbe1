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


# ---- device dispatch, tested on CPU: what the CUDA paths choose, without a GPU


def _dist_info(local_rank: int = 0):
    from tanet.engine.distributed import DistInfo
    return DistInfo(rank=local_rank, world_size=4, local_rank=local_rank)


def test_select_device_auto_is_cpu_without_cuda(monkeypatch):
    from tanet.engine.distributed import select_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto", _dist_info()) == torch.device("cpu")


def test_select_device_cuda_takes_the_local_ranks_gpu(monkeypatch):
    from tanet.engine.distributed import select_device
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    # local rank 3 on a 2-GPU node: GPU 3 % 2 = 1; "auto" resolves to the same; an explicit index is kept
    assert select_device("cuda", _dist_info(3)) == torch.device("cuda", 1)
    assert select_device("auto", _dist_info(2)) == torch.device("cuda", 0)
    assert select_device("cuda:1", _dist_info(0)) == torch.device("cuda", 1)
    assert chosen == [torch.device("cuda", 1), torch.device("cuda", 0), torch.device("cuda", 1)]


@pytest.mark.parametrize("spec, message", [
    ("cuda", "sees no CUDA GPU"), ("cuda:0", "sees no CUDA GPU"), ("gpu", "unknown device 'gpu'"),
    ("mps", "device 'mps' is not supported"), ("xpu", "device 'xpu' is not supported"),
])
def test_select_device_refuses_what_cannot_run_naming_what_can(monkeypatch, spec, message):
    from tanet.engine.distributed import select_device
    from tanet.errors import UsageError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match=message) as caught:  # exit code 2 on the command line
        select_device(spec, _dist_info())
    assert str(caught.value).endswith("available here: auto, cpu")


def test_device_mps_on_the_command_line_is_one_line(capsys, tmp_path):
    from tanet.cli import main
    assert main(["train", "cpu_tiny", "--device", "mps", "--out", str(tmp_path / "run")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tanet train: error: device 'mps' is not supported (tanet runs on cpu and cuda); "
                           "available here: auto, cpu")  # (then cuda, cuda:0, ... where there are GPUs)
    assert not (tmp_path / "run").exists()


def test_select_device_refuses_a_missing_gpu_index(monkeypatch):
    from tanet.engine.distributed import select_device
    from tanet.errors import TanetError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(TanetError, match="only 1 CUDA GPU.*available here: auto, cpu, cuda, cuda:0"):
        select_device("cuda:3", _dist_info())


def test_fp16_autocast_is_refused_on_cpu_and_bf16_runs():
    from tanet.engine.evaluation import autocast_context
    with pytest.raises(ValueError, match="fp16 autocast needs a GPU"):
        autocast_context(torch.device("cpu"), "fp16")
    with autocast_context(torch.device("cpu"), "bf16"):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
