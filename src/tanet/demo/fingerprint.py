"""What determines a demo's numbers, recorded so that two runs can be compared: the ``fingerprint``.

Two runs with equal fingerprints (same ``digest``) and the same command give bit-identical numbers; when
the numbers of two runs differ, the first differing entry says where to look:

* ``data``: per set, a SHA-256 of every decoded clip (train and test lists, in list order: the uint8 frames
  the models are fed, as decoded by the backend the runs used) and the set's spec hash. The workers compute
  it from the frames they decoded for training (:func:`decoded_clips_digest`), so it costs no second decode,
  and every worker must agree;
* ``pretrained_2d``: a SHA-256 of the 2D start's tensors (names, dtypes, shapes, bytes);
* ``recipes``: per cell (set/model), a SHA-256 of the recipe its runs trained with (:func:`recipe_digest`),
  so that two commits whose recipes differ never share a fingerprint;
* ``software``: the torch, numpy, PyAV (and its FFmpeg libraries), torchcodec, Python and tanet versions;
* ``cpu``: what picks the floating-point kernels: ``torch.backends.cpu.get_cpu_capability()`` as the
  training workers saw it, the CPU model, the settings that override the dispatch
  (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``, ``MKL_CBWR``, …) and the threads per run; the processes
  are recorded beside it, outside the digest (they do not change a number).

Training amplifies floating-point differences: another CPU capability gives other per-seed numbers (measured
in the README). The fingerprint names the cause; the demo's verdicts are designed not to depend on it.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

__all__ = ["DISPATCH_VARIABLES", "decoded_clips_digest", "tensors_digest", "recipe_digest", "software_versions", "cpu_info",
           "run_environment", "build_fingerprint"]

# environment variables that change which floating-point kernels torch, oneDNN, MKL and numpy pick
DISPATCH_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_CBWR",
                      "MKL_ENABLE_INSTRUCTIONS", "NPY_DISABLE_CPU_FEATURES", "OMP_NUM_THREADS")


def decoded_clips_digest(list_files: Sequence[os.PathLike | str], root: os.PathLike | str,
                         backend: Optional[str] = None) -> dict:
    """SHA-256 over every clip of ``list_files`` (in order): its path relative to ``root``, its frames' shape
    and bytes, decoded with ``backend`` (None: the automatic one; ``"memory"`` reads what this process decoded
    before). ``{"sha256", "clips", "frames"}``."""
    from tanet.data.decode import get_backend
    from tanet.data.lists import read_list

    digest = hashlib.sha256()
    clips = frames = 0
    for list_file in list_files:
        for record in read_list(list_file, root):
            with get_backend(backend, record.path).open(record.path) as reader:
                decoded = reader.read(list(range(reader.num_frames))).contiguous()
            digest.update(os.path.relpath(record.path, root).encode())
            digest.update(repr(tuple(decoded.shape)).encode())
            digest.update(decoded.numpy().tobytes())
            clips += 1
            frames += int(decoded.shape[0])
    return {"sha256": digest.hexdigest(), "clips": clips, "frames": frames}


def tensors_digest(state: Mapping) -> str:
    """SHA-256 of a state dict's tensors (sorted names, dtypes, shapes, bytes): equal iff the weights are."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        value = state[name]
        if not isinstance(value, torch.Tensor):
            continue
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# what only places or numbers one run: its folder, its training seed (each row records it), resume and progress
_RUN_LOCAL_KEYS = (("runtime", "out"), ("runtime", "seed"), ("runtime", "resume"), ("runtime", "progress"))


def recipe_digest(config) -> str:
    """A SHA-256 of one run's recipe: every key of its config but those in ``_RUN_LOCAL_KEYS``; a 2D start
    given as a file counts as ``<file>`` (its tensors are hashed in ``pretrained_2d``, its path is the cache's)."""
    from tanet.engine.pretrain2d import is_synthetic
    from tanet.factory import SCRATCH
    from tanet.interop.imagenet import is_imagenet

    values = config.to_dict()
    for section, key in _RUN_LOCAL_KEYS:
        values[section].pop(key, None)
    pretrained = values["model"].get("pretrained")
    # what model.pretrained is not a name of (scratch, imagenet[:...], synthetic[:...]) is a file
    if pretrained not in (None, SCRATCH) and not is_imagenet(pretrained) and not is_synthetic(pretrained):
        values["model"]["pretrained"] = "<file>"
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def _version(package: str) -> Optional[str]:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def software_versions() -> dict:
    import numpy
    import torch

    versions = {"python": platform.python_version(), "tanet": _version("tanet"), "torch": torch.__version__,
                "numpy": numpy.__version__, "torchcodec": _version("torchcodec")}
    try:
        import av

        versions.update(pyav=av.__version__, ffmpeg=str(getattr(av, "ffmpeg_version_info", "?")),
                        libavcodec=".".join(map(str, av.library_versions.get("libavcodec", ()))))
    except ImportError:  # pragma: no cover - PyAV is a dependency
        versions["pyav"] = None
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_info() -> dict:
    """The CPU and the dispatch this process runs with (call it where the training runs)."""
    import torch

    return {"capability": torch.backends.cpu.get_cpu_capability(), "model": _cpu_model(),
            "machine": platform.machine(), "system": sys.platform,
            "dispatch_env": {name: os.environ[name] for name in DISPATCH_VARIABLES if name in os.environ}}


def run_environment() -> dict:
    """What a training worker records beside its numbers: its CPU dispatch and its thread count."""
    import torch

    return {**cpu_info(), "threads": torch.get_num_threads()}


def _agreed(values: Iterable, what: str) -> object:
    distinct = []
    for value in values:
        if value not in distinct:
            distinct.append(value)
    if len(distinct) == 1:
        return distinct[0]
    return {"disagree": distinct, "what": what}


def build_fingerprint(*, rows: Sequence[dict], datasets: Mapping[str, object], pretrained_path: Optional[str],
                      processes: int) -> dict:
    """The fingerprint of a finished demo from its run rows (each holds ``environment`` and ``clips_digest``),
    its data sets (kind -> SyntheticDataset) and the 2D start. ``digest`` is a short hash of everything else."""
    import torch

    data = {}
    for kind, dataset in datasets.items():
        data[kind] = {"spec": dataset.spec.fingerprint(), "codec": dataset.codec,
                      "decoded": _agreed([r["clips_digest"] for r in rows if r["kind"] == kind and "clips_digest" in r],
                                         "workers decoded different frames")}
    pretrained = None
    if pretrained_path:
        state = torch.load(pretrained_path, map_location="cpu", weights_only=True)
        pretrained = {"file": Path(pretrained_path).name, "sha256": tensors_digest(state)}
    digests_by_cell: dict[str, list] = {}
    for r in rows:
        if "recipe_digest" in r:
            digests_by_cell.setdefault(f"{r['kind']}/{r['model']}", []).append(r["recipe_digest"])
    recipes = {cell: _agreed(digests, "seeds of one cell trained with different recipes")
               for cell, digests in sorted(digests_by_cell.items())}
    environments = [r["environment"] for r in rows if "environment" in r]
    cpu = _agreed([{k: v for k, v in e.items() if k != "threads"} for e in environments], "runs saw different CPUs")
    fingerprint = {"data": data, "pretrained_2d": pretrained, "recipes": recipes, "software": software_versions(),
                   "cpu": cpu if environments else cpu_info(),
                   "threads_per_run": _agreed([e["threads"] for e in environments], "runs used different threads")
                   if environments else torch.get_num_threads(),
                   "processes": processes}
    # the process count is recorded but not hashed: runs are bit-identical between --jobs 1 and 2 (tests/demo)
    hashed = {key: value for key, value in fingerprint.items() if key != "processes"}
    fingerprint["digest"] = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]
    return fingerprint
