"""Frame extraction, `tanet prepare` and `tanet check-videos` end to end."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tanet.cli import main
from tanet.data import count_frames, read_frames, read_list
from tanet.data.extract import DONE_MARKER, extract_frames, ffmpeg_executable

from utils.processes import children, running

from .conftest import decode_all, synthetic_frames, write_video

EXTRACTORS = ["pyav", pytest.param("ffmpeg", marks=pytest.mark.skipif(ffmpeg_executable() is None, reason="no ffmpeg"))]


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_extract_frames_matches_decode(tmp_path, mp4_video, extractor):
    folder = tmp_path / "frames"
    n = extract_frames(mp4_video, folder, short_side=0, jpeg_quality=95, extractor=extractor)
    reference = decode_all(mp4_video)
    assert n == len(reference) == count_frames(folder, "frames")
    assert json.loads((folder / DONE_MARKER).read_text())["frames"] == n
    got = read_frames(folder, range(n), "frames").numpy().astype(int)
    # JPEG is lossy (these frames are random 8x8 colour blocks, its worst case), but every
    # extracted frame is far closer to the decoded frame of the same index than to its
    # neighbours (the bar moves 5 px and the brightness jumps between frames).
    for i in range(1, n - 1):
        own = np.abs(got[i] - reference[i]).mean()
        neighbour = min(np.abs(got[i] - reference[i - 1]).mean(), np.abs(got[i] - reference[i + 1]).mean())
        assert own < 10 and neighbour > 2 * own, (i, own, neighbour)


def test_extract_resizes_and_resumes(tmp_path, mp4_video):
    folder = tmp_path / "f"
    extract_frames(mp4_video, folder, short_side=32, extractor="pyav")
    assert read_frames(folder, [0], "frames").shape == (1, 32, 40, 3)  # 64x80 -> 32x40
    # A done folder is not touched again; an unfinished one is redone from scratch.
    (folder / "img_00001.jpg").write_bytes(b"sentinel")
    assert extract_frames(mp4_video, folder, short_side=32, extractor="pyav") == 50
    assert (folder / "img_00001.jpg").read_bytes() == b"sentinel"
    (folder / DONE_MARKER).unlink()
    assert extract_frames(mp4_video, folder, short_side=32, extractor="pyav") == 50
    assert read_frames(folder, [0], "frames").shape == (1, 32, 40, 3)


def test_prepare_sthv2_with_extraction(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for vid, n in [("11", 12), ("22", 9)]:
        write_video(videos / f"{vid}.webm", synthetic_frames(n, 32, 48), codec="libvpx-vp9", gop=5)
    (tmp_path / "labels.json").write_text(json.dumps({"Holding something": "0", "Dropping something": "1"}))
    (tmp_path / "train.json").write_text(json.dumps([{"id": "11", "template": "Holding [something]"}]))
    (tmp_path / "val.json").write_text(json.dumps([{"id": "22", "template": "Dropping [something]"}, {"id": "33", "template": "Holding [something]"}]))
    out, frames = tmp_path / "lists", tmp_path / "frames"
    code = main([
        "prepare", "--format", "sthv2", "--root", str(videos), "--labels", str(tmp_path / "labels.json"),
        "--train-annotations", str(tmp_path / "train.json"), "--val-annotations", str(tmp_path / "val.json"),
        "--out", str(out), "--extract-frames", str(frames), "--short-side", "0", "--workers", "2", "--extractor", "pyav",
    ])
    assert code == 0
    assert (out / "classes.txt").read_text() == "Holding something\nDropping something\n"
    assert (out / "train.txt").read_text() == "11 12 0\n"
    assert (out / "val.txt").read_text() == "22 9 1\n"
    assert "33.webm" in (out / "missing.txt").read_text()
    (record,) = read_list(out / "val.txt", frames)
    assert record.num_frames == count_frames(videos / "22.webm", "pyav")


def test_prepare_kinetics_video_lists(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "aaa_000001_000011.mp4").write_bytes(b"x")
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nwriting,aaa,1,11,train\nabseiling,bbb,2,12,train\n")
    code = main(["prepare", "--format", "kinetics400", "--root", str(tmp_path / "v"), "--train-annotations", str(tmp_path / "train.csv"), "--out", str(tmp_path / "o")])
    assert code == 0
    assert (tmp_path / "o" / "train.txt").read_text() == "aaa_000001_000011.mp4 1\n"
    assert (tmp_path / "o" / "classes.txt").read_text() == "abseiling\nwriting\n"


def test_prepare_reports_bad_annotations(tmp_path, capsys):
    (tmp_path / "train.csv").write_text("nothing useful\n")
    code = main(["prepare", "--format", "kinetics400", "--root", str(tmp_path), "--train-annotations", str(tmp_path / "train.csv"), "--out", str(tmp_path / "o")])
    assert code == 1 and "train.csv" in capsys.readouterr().err  # a bad file found while running


def test_check_videos(tmp_path, mp4_video, capsys):
    import shutil

    shutil.copy(mp4_video, tmp_path / "good.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    data = mp4_video.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    list_file = tmp_path / "list.txt"
    list_file.write_text("good.mp4 0\nempty.mp4 1\ngone.mp4 2\ncut.mp4 3\ngood.mp4 4\n")
    assert main(["check-videos", str(list_file), "--root", str(tmp_path), "--workers", "1", "--backend", "pyav"]) == 1
    printed = capsys.readouterr().out
    for line, name in [(2, "empty.mp4"), (3, "gone.mp4"), (4, "cut.mp4")]:
        assert f"list.txt:{line}: " in printed and name in printed
    assert "good.mp4" not in printed
    clean = tmp_path / "clean.txt"
    assert main(["check-videos", "--list", str(list_file), "--root", str(tmp_path), "--workers", "2", "-o", str(clean), "--full"]) == 0
    assert clean.read_text() == "good.mp4 0\ngood.mp4 4\n"


def test_extracting_again_with_other_options_redoes_the_folder(tmp_path, mp4_video):
    folder = tmp_path / "f"
    assert extract_frames(mp4_video, folder, short_side=32, extractor="pyav") == 50
    assert read_frames(folder, [0], "frames").shape == (1, 32, 40, 3)
    # another short side: extracted again, not silently kept
    assert extract_frames(mp4_video, folder, short_side=48, extractor="pyav") == 50
    assert read_frames(folder, [0], "frames").shape == (1, 48, 60, 3)
    marker = json.loads((folder / DONE_MARKER).read_text())
    assert marker == {"frames": 50, "short_side": 48, "jpeg_quality": 90, "template": "img_{:05d}.jpg", "start_index": 1}
    # another JPEG quality: other bytes
    before = (folder / "img_00010.jpg").read_bytes()
    extract_frames(mp4_video, folder, short_side=48, jpeg_quality=30, extractor="pyav")
    assert len((folder / "img_00010.jpg").read_bytes()) < len(before)
    # another template: the old frames go, the new names hold the frames
    extract_frames(mp4_video, folder, short_side=48, jpeg_quality=30, template="{:04d}.jpg", extractor="pyav")
    assert sorted(p.name for p in folder.iterdir())[:2] == [".done", "0001.jpg"]
    assert not list(folder.glob("img_*.jpg")) and len(list(folder.glob("*.jpg"))) == 50
    # a marker of an older version (a bare count, no options) is extracted again
    (folder / DONE_MARKER).write_text("50\n")
    (folder / "0001.jpg").write_bytes(b"sentinel")
    extract_frames(mp4_video, folder, short_side=48, jpeg_quality=30, template="{:04d}.jpg", extractor="pyav")
    assert (folder / "0001.jpg").read_bytes() != b"sentinel"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_prepare_workers_die_with_it(tmp_path, extractor):
    videos = tmp_path / "videos"
    for name in ("a/0", "a/1", "a/2", "a/3", "b/0", "b/1"):
        (videos / name).parent.mkdir(parents=True, exist_ok=True)
        write_video(videos / f"{name}.mp4", synthetic_frames(300, 96, 128))
    prepare = subprocess.Popen([sys.executable, "-m", "tanet", "prepare", "--format", "folder", "--root", str(videos),
                                "--out", str(tmp_path / "lists"), "--extract-frames", str(tmp_path / "frames"),
                                "--workers", "2", "--extractor", extractor, "--short-side", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = set()
    try:
        deadline = time.time() + 120
        while not (len(children(prepare.pid)) >= 2 and list((tmp_path / "frames").rglob("*.jpg"))):
            assert prepare.poll() is None and time.time() < deadline, "the extraction never started"
            time.sleep(0.02)
        workers = children(prepare.pid)
        for pid in list(workers):  # and what they started (ffmpeg)
            if running(pid):
                workers |= children(pid)
        os.kill(prepare.pid, signal.SIGKILL)  # the user's kill -9, mid-extraction
        prepare.wait()
        deadline = time.time() + 10
        while any(running(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if running(pid)]
    finally:
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_check_videos_never_replaces_its_list_and_an_existing_file_only_with_overwrite(tmp_path, mp4_video, capsys):
    import shutil

    shutil.copy(mp4_video, tmp_path / "good.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    list_file, clean = tmp_path / "list.txt", tmp_path / "clean.txt"
    original = "good.mp4 0\nempty.mp4 1\ngood.mp4 2\n"
    list_file.write_text(original)
    check = ["check-videos", "--list", str(list_file), "--root", str(tmp_path), "--workers", "1"]
    # the input list itself: refused, even with --overwrite (the old --write-clean spelling too)
    for flags in (["-o", str(list_file), "--overwrite"], ["--write-clean", str(list_file)]):
        assert main([*check, *flags]) == 2
        assert "is also an input of this command" in capsys.readouterr().err
        assert list_file.read_text() == original
    clean.write_text("mine\n")
    assert main([*check, "--out", str(clean)]) == 2  # an existing file, before anything is checked
    err = capsys.readouterr().err
    assert f"--out {clean} exists" in err and "--overwrite" in err and "readable" not in err
    assert clean.read_text() == "mine\n"
    assert main([*check, "--out", str(clean), "--overwrite"]) == 0
    assert clean.read_text() == "good.mp4 0\ngood.mp4 2\n"
    assert "wrote 2 entries" in capsys.readouterr().err
    assert list_file.read_text() == original


def test_check_videos_takes_its_list_once(tmp_path, capsys):
    list_file = tmp_path / "list.txt"
    list_file.write_text("a.mp4 0\n")
    assert main(["check-videos", str(list_file), "--list", str(list_file)]) == 2
    assert "give the list once" in capsys.readouterr().err
    assert main(["check-videos"]) == 2
    assert "--list LIST" in capsys.readouterr().err


def test_check_videos_notices_a_gap_in_a_frame_folder(tmp_path, mp4_video, capsys):
    extract_frames(mp4_video, tmp_path / "clip", short_side=0, extractor="pyav")  # 50 frames
    extract_frames(mp4_video, tmp_path / "whole", short_side=0, extractor="pyav")
    # a frame check-videos' first/middle/last probe would not read (1, 26, 50 are read)
    (tmp_path / "clip" / "img_00010.jpg").unlink()
    list_file = tmp_path / "frames.txt"
    list_file.write_text("clip 50 0\nwhole 50 1\n")
    assert main(["check-videos", str(list_file), "--root", str(tmp_path), "--workers", "1"]) == 1
    printed = capsys.readouterr().out
    assert "frames.txt:1: " in printed and "img_00010.jpg is missing" in printed
    assert "whole" not in printed


def _clip_folder(root, clips):
    for clip in clips:
        (root / clip).parent.mkdir(parents=True, exist_ok=True)
        (root / clip).write_bytes(b"x")  # prepare --format folder lists files; it does not decode them
    return root


def test_prepare_folder_refuses_to_replace_a_prepared_set_without_overwrite(tmp_path, capsys):
    root = _clip_folder(tmp_path / "clips", ["a/1.mp4", "a/2.mp4", "b/3.mp4", "b/4.mp4"])
    out = tmp_path / "lists"
    prepare = ["prepare", "--format", "folder", "--root", str(root), "--out", str(out), "--val-fraction", "0.5"]
    assert main(prepare) == 0
    lists = {name: (out / name).read_text() for name in ("train.txt", "val.txt", "classes.txt")}
    (out / "missing.txt").write_text("val gone.mp4\n")  # as an earlier preparation left it
    capsys.readouterr()
    assert main([*prepare, "--seed", "3"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (f"tanet prepare: error: --out {out / 'classes.txt'} exists; choose another path, or pass "
                    "--overwrite to replace it")
    assert {name: (out / name).read_text() for name in lists} == lists
    assert main([*prepare, "--overwrite"]) == 0
    assert {name: (out / name).read_text() for name in lists} == lists  # the same seed: the same split
    assert not (out / "missing.txt").exists()  # nothing is missing now: the stale file went


def test_prepare_folder_validates_val_fraction_and_folder_only_flags(tmp_path, capsys):
    root = _clip_folder(tmp_path / "clips", ["a/1.mp4", "a/2.mp4"])
    out = tmp_path / "lists"
    assert main(["prepare", "--format", "folder", "--root", str(root), "--out", str(out), "--val-fraction", "1.5"]) == 2
    assert "--val-fraction must be in (0, 1)" in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    assert main(["prepare", "--format", "kinetics400", "--root", str(root), "--train-annotations",
                 str(tmp_path / "train.csv"), "--out", str(out), "--group-by", "^(.*)_clip"]) == 2
    assert "--group-by: only for --format folder" in capsys.readouterr().err


def test_prepare_folder_groups_clips_of_one_source_and_says_how(tmp_path, capsys):
    clips = [f"{cls}/{cls}{source}_clip{i}.mp4" for cls in ("walk", "run") for source in range(4) for i in range(3)]
    root = _clip_folder(tmp_path / "clips", [*clips, ".hidden/x_clip0.mp4", "empty/.keep"])
    out = tmp_path / "lists"
    assert main(["prepare", "--format", "folder", "--root", str(root), "--out", str(out), "--val-fraction", "0.25",
                 "--group-by", r"^(.*)_clip\d+", "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert f"skipped class folder {root / 'empty'}: no video files" in err
    assert "--group-by: 24 of 24 file names matched; 6 groups to train, 2 to val" in err
    assert "train.txt: 18 entries from 6 source groups" in err and "val.txt: 6 entries from 2 source groups" in err
    assert (out / "classes.txt").read_text() == "run\nwalk\n"  # not .hidden, not empty

    def sources(name):
        return {line.split("/")[1].split("_clip")[0] for line in (out / name).read_text().splitlines()}

    assert not sources("train.txt") & sources("val.txt") and len(sources("val.txt")) == 2
