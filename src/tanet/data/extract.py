"""Extract video frames to JPEG folders (the input of the ``frames`` backend).

Uses the ``ffmpeg`` executable when it is on PATH and PyAV otherwise (always available),
one video per worker process, one thread per video. Resumable: a finished folder holds a
``.done`` file (JSON: its frame count and the options it was extracted with) and is skipped
next time if those options are the same; an unfinished folder, or one extracted with other
options (short side, JPEG quality, template, start index) or by an older tanet, is cleared and
redone. Frame ``i`` (0-based, as :func:`tanet.data.read_frames` numbers them) is written as
``template.format(start_index + i)``. Worker processes and ffmpeg die with the process that
started them (Linux), so an interrupted ``tanet prepare`` leaves nothing running.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from concurrent.futures import as_completed
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from tanet.utils.io import atomic_write_text
from tanet.utils.process import die_with_parent, worker_pool

from .decode import VideoDecodeError
from .transforms import short_side_size

__all__ = ["DONE_MARKER", "ExtractJob", "ExtractResult", "extract_frames", "extract_many", "ffmpeg_executable"]

DONE_MARKER = ".done"
Extractor = Literal["auto", "ffmpeg", "pyav"]


def ffmpeg_executable() -> str | None:
    return shutil.which("ffmpeg")


def _printf_template(template: str) -> str:
    """``img_{:05d}.jpg`` -> ``img_%05d.jpg`` for ffmpeg's image2 muxer."""
    converted, count = re.subn(r"\{(?::(0?\d*)d)?\}", lambda m: f"%{m.group(1) or ''}d", template.replace("%", "%%"))
    if count != 1:
        raise ValueError(f"frame template must contain exactly one integer field, got {template!r}")
    return converted


def _ffmpeg_quality(jpeg_quality: int) -> int:
    """Map a PIL-style JPEG quality (1..100) to ffmpeg's -q:v (31 worst .. 2 best)."""
    jpeg_quality = min(max(int(jpeg_quality), 1), 100)
    return int(round(2 + (100 - jpeg_quality) * 29 / 99))


def _probe_size(video: str) -> tuple[int, int]:
    import av

    try:
        with av.open(video) as container:
            stream = container.streams.video[0]
            return stream.codec_context.height, stream.codec_context.width
    except (av.error.FFmpegError, OSError, IndexError) as err:
        raise VideoDecodeError(video, f"cannot open: {err}") from None


def _target_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    if not short_side:
        return height, width
    h, w = short_side_size(height, width, short_side)
    return h + h % 2, w + w % 2  # even sizes keep every encoder/scaler happy


def _clear(folder: str, template: str) -> None:
    prefix = template.split("{", 1)[0]
    suffix = template.rsplit("}", 1)[-1]
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith(suffix):
            os.remove(os.path.join(folder, name))


def _read_marker(marker: str) -> dict | None:
    """The ``.done`` marker's content (None when missing or unreadable; a bare count, as older
    versions wrote, gives ``{"frames": N}`` without options)."""
    try:
        with open(marker) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, int):
        return {"frames": data}
    return data if isinstance(data, dict) and isinstance(data.get("frames"), int) else None


def _extract_ffmpeg(video, folder, size, jpeg_quality, template, start_index, executable) -> None:
    height, width = size
    command = [
        executable, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-noautorotate",
        "-threads", "1", "-i", video, "-map", "0:v:0", "-vsync", "passthrough",
        "-vf", f"scale={width}:{height}", "-q:v", str(_ffmpeg_quality(jpeg_quality)),
        "-start_number", str(start_index), os.path.join(folder, _printf_template(template)),
    ]
    # Dies with this process (a worker, or the only thread here: preexec_fn is unsafe with threads).
    child_setup = die_with_parent if threading.active_count() == 1 else None
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=child_setup)
    if done.returncode != 0:
        raise VideoDecodeError(video, f"ffmpeg failed: {done.stderr.strip()[-500:]}")


def _extract_pyav(video, folder, size, jpeg_quality, template, start_index) -> None:
    import av

    height, width = size
    try:
        with av.open(video) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for i, frame in enumerate(container.decode(stream)):
                image = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_image()
                image.save(os.path.join(folder, template.format(start_index + i)), quality=int(jpeg_quality))
    except (av.error.FFmpegError, OSError, IndexError) as err:
        raise VideoDecodeError(video, f"decoding failed: {err}") from None


def extract_frames(
    video: str | os.PathLike,
    folder: str | os.PathLike,
    *,
    short_side: int | None = 256,
    jpeg_quality: int = 90,
    template: str = "img_{:05d}.jpg",
    start_index: int = 1,
    extractor: Extractor = "auto",
) -> int:
    """Write every frame of ``video`` into ``folder``; return the number of frames.

    ``short_side`` resizes (``None``/0 keeps the size); ``jpeg_quality`` is 1..100. A
    folder already marked done with the same options is not touched; one marked done with other
    options is extracted again. Raises :class:`VideoDecodeError`.
    """
    video, folder = os.fspath(video), os.fspath(folder)
    marker = os.path.join(folder, DONE_MARKER)
    options = {"short_side": short_side or None, "jpeg_quality": int(jpeg_quality), "template": template,
               "start_index": int(start_index)}
    done = _read_marker(marker)
    if done is not None and all(done.get(key) == value for key, value in options.items()):
        return done["frames"]
    if done is not None:  # extracted with other options: those frames go, whatever their names
        _clear(folder, done.get("template", template))
        os.remove(marker)
    if not os.path.isfile(video):
        raise VideoDecodeError(video, "file does not exist")
    if os.path.getsize(video) == 0:
        raise VideoDecodeError(video, "file is empty (0 bytes)")
    os.makedirs(folder, exist_ok=True)
    _clear(folder, template)
    size = _target_size(*_probe_size(video), short_side)
    executable = ffmpeg_executable() if extractor in ("auto", "ffmpeg") else None
    if extractor == "ffmpeg" and executable is None:
        raise RuntimeError("the ffmpeg executable is not on PATH (use extractor='pyav')")
    if executable:
        _extract_ffmpeg(video, folder, size, jpeg_quality, template, start_index, executable)
    else:
        _extract_pyav(video, folder, size, jpeg_quality, template, start_index)
    names = set(os.listdir(folder))
    count = 0
    while template.format(start_index + count) in names:
        count += 1
    if count == 0:
        raise VideoDecodeError(video, "no frames could be extracted")
    atomic_write_text(marker, json.dumps({"frames": count, **options}) + "\n")
    return count


@dataclass(frozen=True)
class ExtractJob:
    video: str
    folder: str


@dataclass(frozen=True)
class ExtractResult:
    job: ExtractJob
    num_frames: int = 0
    error: str | None = None


def _run_job(job: ExtractJob, options: dict) -> ExtractResult:
    try:
        return ExtractResult(job, extract_frames(job.video, job.folder, **options))
    except VideoDecodeError as err:
        return ExtractResult(job, 0, str(err))


def extract_many(
    jobs: Sequence[ExtractJob],
    *,
    workers: int = os.cpu_count() or 1,
    progress: Callable[[ExtractResult], None] | None = None,
    **options,
) -> list[ExtractResult]:
    """Run :func:`extract_frames` on many videos in parallel (results in job order).
    A video that fails gives a result with ``error`` set; the others go on. The worker processes
    (and the ffmpeg each starts) die with this process."""
    if workers <= 1:
        done = []
        for job in jobs:
            done.append(_run_job(job, options))
            if progress is not None:
                progress(done[-1])
        return done
    results: dict[int, ExtractResult] = {}
    with worker_pool(workers) as pool:
        futures = {pool.submit(_run_job, job, options): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if progress is not None:
                progress(result)
    return [results[i] for i in range(len(jobs))]
