"""Frame-accurate reading of a few frames from a video file or a folder of frames.

Backends share one interface (:class:`VideoBackend` opens a :class:`VideoReader`), one module each:

* ``"pyav"`` (:mod:`.pyav`) -- PyAV (FFmpeg bundled in the wheel); always available, the automatic choice.
* ``"torchcodec"`` (:mod:`.torchcodec`) -- torchcodec, when it imports (needs the system FFmpeg libraries).
* ``"frames"`` (:mod:`.frames`) -- a folder of extracted frames named by a template.

Frames are numbered from 0 in presentation order, i.e. the order in which a full decode
of the first video stream yields them, so ``read_frames(path, [i])[0]`` is the ``i``-th
frame of ``for frame in av.open(path).decode(video=0)``. Every backend reads only the
frames asked for: PyAV seeks to the key frame before each wanted frame, decodes forward only
as far as needed and skips the frames nothing references and nobody asked for; torchcodec
seeks on its own; the folder backend opens only the files it needs.

Every problem with the input itself (missing, empty, truncated or corrupt file, no video
stream, a missing frame file) raises :class:`VideoDecodeError`, which names the file.
"""
from .api import available_backends, count_frames, get_backend, open_video, read_frames, register_backend
from .base import VideoBackend, VideoDecodeError, VideoReader
from .frames import FrameFolderBackend
from .pyav import PyAVBackend
from .torchcodec import TorchCodecBackend, torchcodec_available

__all__ = [
    "VideoDecodeError",
    "VideoReader",
    "VideoBackend",
    "PyAVBackend",
    "TorchCodecBackend",
    "FrameFolderBackend",
    "available_backends",
    "get_backend",
    "register_backend",
    "open_video",
    "read_frames",
    "count_frames",
    "torchcodec_available",
]
