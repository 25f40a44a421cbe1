"""The error every backend raises: it names the file, survives pickling, and keeps its one line when a
DataLoader worker reports it."""
from __future__ import annotations

import pickle

from tanet.data import VideoDecodeError


def test_error_pickles():
    err = pickle.loads(pickle.dumps(VideoDecodeError("/a/b.mp4", "broken")))
    assert err.path == "/a/b.mp4" and "b.mp4: broken" in str(err)


def test_error_from_a_worker_report_keeps_the_line_naming_the_file():
    report = ("Caught VideoDecodeError in DataLoader worker process 1.\nOriginal Traceback (most recent call last):\n"
              '  File "x.py", line 3, in load\n'
              "tanet.data.decode.base.VideoDecodeError: /data/v.mp4: decoding failed: Invalid data\n")
    err = VideoDecodeError(report)
    assert err.path == "/data/v.mp4" and err.reason == "decoding failed: Invalid data"
