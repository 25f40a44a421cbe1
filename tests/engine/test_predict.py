"""``tanet predict`` as people use it, on tiny generated videos: folders (of videos or of frames), list
files and globs; an unreadable file skipped; JSON/CSV output; a long video through the timeline."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tanet.cli import main
from tanet.data import read_frames
from tanet.data.decode import count_frames, open_video
from tanet.data.encode import encode_video
from tanet.data.lists import VideoRecord
from tanet.engine.builders import build_eval_dataset, load_for_eval
from tanet.engine.predict import VideoInput, collect_videos, predict_videos


def _val_videos(tiny_videos, count):
    return sorted((tiny_videos.root / "videos" / "val").rglob("*.mp4"))[:count]


def _frames_folder(video, folder, template):
    folder.mkdir(parents=True)
    from PIL import Image

    for index, frame in enumerate(read_frames(video, range(count_frames(video)))):
        Image.fromarray(frame.numpy()).save(folder / template.format(index + 1))  # PNG: lossless
    return folder


def test_inputs_are_taken_by_content(tiny_videos, tmp_path):
    video_a, video_b = _val_videos(tiny_videos, 2)
    clips = tmp_path / "clips"
    (clips / "nested").mkdir(parents=True)
    shutil.copy(video_a, clips / "a.mp4")
    shutil.copy(video_b, clips / "nested" / "b.mp4")
    (clips / "notes.md").write_text("not a video")
    _frames_folder(video_a, clips / "frames_tsn", "img_{:05d}.png")
    _frames_folder(video_a, clips / "frames_ssv1", "{:05d}.png")
    found = collect_videos([clips])
    assert found == [VideoInput(str(clips / "a.mp4")),
                     VideoInput(str(clips / "frames_ssv1"), "{:05d}.png", 1),
                     VideoInput(str(clips / "frames_tsn"), "img_{:05d}.png", 1),
                     VideoInput(str(clips / "nested" / "b.mp4"))]
    assert collect_videos([clips / "frames_tsn"]) == [found[2]]  # a frame folder given itself
    listing = tmp_path / "list.txt"
    listing.write_text("a.mp4 3\n# a comment\n\nnested/b.mp4\nframes_tsn 8 1\nmissing.mp4 0\n")
    assert collect_videos([listing], root=clips) == [
        VideoInput(str(clips / "a.mp4")), VideoInput(str(clips / "nested" / "b.mp4")), found[2],
        VideoInput(str(clips / "missing.mp4"))]
    assert collect_videos([str(clips / "**" / "*.mp4")]) == [found[0], found[3]]
    with pytest.raises(ValueError, match="no file matches"):
        collect_videos([str(clips / "*.avi")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no video files"):
        collect_videos([tmp_path / "empty"])


def test_folder_with_a_corrupt_file_predicts_the_rest(tiny_videos, tiny_checkpoint, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    videos = _val_videos(tiny_videos, 3)
    for video in videos:
        shutil.copy(video, clips / video.name)
    (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    _frames_folder(videos[0], clips / "zz_frames", "img_{:05d}.png")
    out = tmp_path / "predictions.json"
    with pytest.warns(RuntimeWarning, match="skipping unreadable video .*broken.mp4"):
        code = main(["predict", str(clips), "--checkpoint", str(tiny_checkpoint), "--topk", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 videos predicted, 1 unreadable (skipped)" in printed and "broken.mp4" in printed
    written = {entry["video"]: entry for entry in json.loads(out.read_text())}
    assert written[str(clips / "broken.mp4")]["status"] == "unreadable"
    assert "cannot open" in written[str(clips / "broken.mp4")]["error"]
    good = [entry for entry in written.values() if entry["status"] == "ok"]
    assert len(good) == 4 and all(len(entry["top"]) == 2 for entry in good)
    # the frame folder holds the first video's frames, losslessly: the same prediction
    same = written[str(clips / videos[0].name)]["top"], written[str(clips / "zz_frames")]["top"]
    assert [t["label"] for t in same[0]] == [t["label"] for t in same[1]]
    assert same[0][0]["probability"] == pytest.approx(same[1][0]["probability"], abs=1e-5)
    # and it is the model's own prediction for that video, computed here without the predict loop
    setup = load_for_eval(tiny_checkpoint)
    clip, _ = build_eval_dataset(setup, [VideoRecord(str(videos[0]), 0)], check_labels=False).load(0)
    with torch.no_grad():
        probabilities = setup.model(clip.unsqueeze(0))[0].softmax(0)
    assert same[0][0]["probability"] == pytest.approx(float(probabilities.max()), abs=1e-5)

    assert main(["predict", str(clips), "--checkpoint", str(tiny_checkpoint), "--strict-data"]) == 1
    assert "broken.mp4" in capsys.readouterr().err


def test_a_long_video_gets_a_timeline(tiny_videos, tiny_checkpoint, tmp_path, capsys):
    # 15 generated clips of 8 frames one after the other: 120 frames, 12 s at 10 fps
    clips = _val_videos(tiny_videos, 12) + _val_videos(tiny_videos, 3)
    frames = np.concatenate([read_frames(video, range(8)).numpy() for video in clips])
    long_video = tmp_path / "long.mp4"
    encode_video(long_video, frames, 10)
    out = tmp_path / "timeline.csv"
    code = main(["predict", str(long_video), "--checkpoint", str(tiny_checkpoint), "--topk", "3",
                 "--long-video", "10", "--window", "2", "--stride", "1", "--out", str(out),
                 "--strip", str(tmp_path / "strips"), "--overlay", str(tmp_path / "overlays")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "timeline (11 windows of 2.0 s)" in printed

    [prediction] = predict_videos([long_video], tiny_checkpoint, topk=3, long_video=10, window=2, stride=1)
    assert prediction.fps == pytest.approx(10) and prediction.duration == pytest.approx(12)
    windows = prediction.timeline
    # by hand: 20-frame windows every 10 frames over 120 frames -> starts 0, 10, ..., 100
    assert [(w.first_frame, w.end_frame) for w in windows] == [(s, s + 20) for s in range(0, 101, 10)]
    assert [(w.start, w.end) for w in windows] == [(s / 10, s / 10 + 2) for s in range(0, 101, 10)]
    # each window: the model on the centres of 4 segments of its 20 frames (TSN test sampling)
    setup = load_for_eval(tiny_checkpoint)
    transform = build_eval_dataset(setup, [], check_labels=False).transform
    for window in (windows[0], windows[6], windows[-1]):
        indices = [window.first_frame + int((k + 0.5) * 20 / 4) for k in range(4)]
        clip = transform(read_frames(long_video, indices))
        with torch.no_grad():
            probabilities = setup.model(clip.unsqueeze(0))[0].softmax(0)
        top = probabilities.topk(3)
        assert window.labels == top.indices.tolist()
        assert window.probabilities == pytest.approx(top.values.tolist(), abs=1e-5)

    rows = list(csv.DictReader(out.read_text().splitlines()))
    timeline_rows = [row for row in rows if row["start"]]
    assert len(timeline_rows) == 11 * 3 and len(rows) == 11 * 3 + 3
    assert float(timeline_rows[-1]["end"]) == pytest.approx(12.0)
    strip = tmp_path / "strips" / "long.timeline.png"
    assert strip.read_bytes()[:4] == b"\x89PNG"
    overlay = tmp_path / "overlays" / "long.timeline.mp4"
    with open_video(overlay, "pyav") as reader:
        assert reader.num_frames == 120 and reader.fps == pytest.approx(10)
        labelled = reader.read([0]).numpy()
    assert labelled[0, :3].mean() < 40  # the label band (black, white text) is drawn over the top rows
    # a second run never replaces the first one's drawings: its own get the next number
    first = strip.read_bytes()
    assert main(["predict", str(long_video), "--checkpoint", str(tiny_checkpoint), "--long-video", "10",
                 "--window", "4", "--strip", str(tmp_path / "strips"), "--no-progress"]) == 0
    assert strip.read_bytes() == first and (tmp_path / "strips" / "long-2.timeline.png").exists()
    capsys.readouterr()
    # a short video gets no timeline by default
    [short] = predict_videos([_val_videos(tiny_videos, 1)[0]], tiny_checkpoint)
    assert short.timeline is None


def test_bad_output_name_is_a_usage_error(tiny_videos, tiny_checkpoint, capsys):
    video = _val_videos(tiny_videos, 1)[0]
    assert main(["predict", str(video), "--checkpoint", str(tiny_checkpoint), "--out", "x.txt"]) == 2
    assert "--out x.txt: write .json or .csv" in capsys.readouterr().err


def test_progress_bar_and_command_line_rules(tiny_videos, tiny_checkpoint, tmp_path, capsys):
    video = _val_videos(tiny_videos, 1)[0]
    base = ["predict", str(video), "--checkpoint", str(tiny_checkpoint)]
    assert main(base) == 0
    assert "predict" in capsys.readouterr().err  # the bar (stderr; stdout keeps the predictions)
    assert main([*base, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    out = tmp_path / "p.json"
    out.write_text("mine")
    assert main([*base, "--out", str(out), "--no-progress"]) == 2 and out.read_text() == "mine"
    assert "--overwrite" in capsys.readouterr().err
    assert main([*base, "--out", str(out), "--no-progress", "--overwrite"]) == 0 and out.read_text() != "mine"
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "typo.mp4"), "--checkpoint", str(tiny_checkpoint)]) == 2
    assert f"{tmp_path / 'typo.mp4'}: no such file or folder" in capsys.readouterr().err
    assert main(["predict", str(video), "--checkpoint", str(tmp_path / "typo.pt")]) == 2


def test_a_bare_state_dict_is_predicted_once_its_architecture_is_named(tiny_videos, tmp_path, capsys):
    import tanet
    from interop.conftest import randomise

    torch.manual_seed(0)
    model = randomise(tanet.create_model("tsm_r18", num_classes=4, num_segments=4, width=0.125))
    bare = tmp_path / "state.pth"
    torch.save(model.state_dict(), bare)
    video = _val_videos(tiny_videos, 1)[0]
    assert main(["predict", str(video), "--checkpoint", str(bare), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "tsn_r18 or tsm_r18" in error and "--model tsn_r18|tsm_r18" in error and "--segments T" in error
    [prediction] = predict_videos([video], bare, model="tsm_r18", num_segments=4, topk=4)
    setup = load_for_eval(bare, name="tsm_r18", num_segments=4)
    clip, _ = build_eval_dataset(setup, [VideoRecord(str(video), 0)], check_labels=False).load(0)
    with torch.no_grad():
        expected = model.eval()(clip.unsqueeze(0))[0].softmax(0)
    assert prediction.probabilities == pytest.approx(expected.topk(4).values.tolist(), abs=1e-5)


def test_tanet_predict_on_a_model_in_memory_matches_the_command_on_its_checkpoint(tiny_videos, tiny_checkpoint,
                                                                                    monkeypatch, capsys):
    import tanet
    from tanet.engine import builders
    from tanet.interop import loading

    videos = _val_videos(tiny_videos, 3)
    assert main(["predict", *map(str, videos), "--checkpoint", str(tiny_checkpoint), "--json", "--no-progress",
                 "--topk", "4"]) == 0
    expected = {entry["video"]: entry["top"] for entry in json.loads(capsys.readouterr().out)}
    model, _ = tanet.load_model(tiny_checkpoint)
    model.train()  # e.g. in the middle of a training script
    state_before = {key: value.clone() for key, value in model.state_dict().items()}

    def no_file(*args, **kwargs):
        raise AssertionError("a model in memory must not be loaded again")

    monkeypatch.setattr(loading, "read_checkpoint", no_file)
    monkeypatch.setattr(builders, "load_for_eval", no_file)
    predictions = tanet.predict(model, [str(v) for v in videos], topk=4)
    assert model.training and all(torch.equal(state_before[k], v) for k, v in model.state_dict().items())
    for prediction in predictions:
        top = expected[prediction.video]
        assert prediction.names == [t["name"] for t in top] and prediction.labels == [t["label"] for t in top]
        assert prediction.probabilities == pytest.approx([t["probability"] for t in top], abs=1e-4)
        assert set(prediction.names) <= set(tiny_videos.class_names)  # the record's class names
    # the record is what made them agree: the same weights without it preprocess with the defaults (224 px)
    bare = tanet.create_model(**model.model_config)
    bare.load_state_dict(model.state_dict())
    [other] = tanet.predict(bare, str(videos[0]), topk=4)
    assert other.names[0].startswith("class_")
    assert other.probabilities != pytest.approx(predictions[0].probabilities, abs=1e-4)
    with pytest.raises(ValueError, match="a model in memory has its architecture"):
        tanet.predict(model, str(videos[0]), num_segments=8)


def test_tanet_predict_on_a_checkpoint_file_and_a_folder(tiny_videos, tiny_checkpoint, tmp_path):
    import tanet

    folder = tmp_path / "clips"
    folder.mkdir()
    for video in _val_videos(tiny_videos, 2):
        shutil.copy(video, folder / video.name)
    predictions = tanet.predict(tiny_checkpoint, folder, topk=2)
    assert [Path(p.video).name for p in predictions] == sorted(v.name for v in _val_videos(tiny_videos, 2))
    assert all(p.status == "ok" and len(p.names) == 2 for p in predictions)
