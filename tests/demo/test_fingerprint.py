"""The fingerprint: hashes that are equal exactly when the decoded clips / weights are, and a record that says
where two runs differ."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch

from tanet.data.synthetic import SyntheticSpec, generate
from tanet.demo.fingerprint import build_fingerprint, decoded_clips_digest, run_environment, tensors_digest


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    spec = SyntheticSpec(kind="motion", num_classes=2, train_per_class=2, val_per_class=1, frames=6, size=32)
    return generate(spec, root=tmp_path_factory.mktemp("set") / "motion")


def test_tensors_digest_sees_one_ulp_and_not_the_order():
    # BatchNorm's num_batches_tracked is a 0-d int64 tensor; plain values are not weights
    state = {"a.weight": torch.linspace(-1, 1, 7), "b.bias": torch.zeros(3, dtype=torch.float64), "step": 4,
             "bn.num_batches_tracked": torch.tensor(12)}
    reordered = {"bn.num_batches_tracked": torch.tensor(12), "b.bias": state["b.bias"].clone(),
                 "a.weight": state["a.weight"].clone()}
    assert tensors_digest(state) == tensors_digest(reordered)
    nudged = dict(reordered)
    nudged["a.weight"] = reordered["a.weight"].clone()
    nudged["a.weight"][3] = torch.nextafter(nudged["a.weight"][3], torch.tensor(2.0))
    assert tensors_digest(nudged) != tensors_digest(state)
    renamed = {"c.weight": state["a.weight"], "b.bias": state["b.bias"], "bn.num_batches_tracked": torch.tensor(12)}
    assert tensors_digest(renamed) != tensors_digest(state)
    assert tensors_digest({**state, "bn.num_batches_tracked": torch.tensor(13)}) != tensors_digest(state)


def test_decoded_clips_digest_is_a_hash_of_what_pyav_decodes(tiny_set):
    import av

    # the same hash written out with PyAV's own decoder, independently of tanet's backends
    expected = hashlib.sha256()
    count = 0
    for list_file in (tiny_set.train_list, tiny_set.val_list):
        for line in open(list_file).read().split("\n"):
            if not line.strip():
                continue
            relative = line.rsplit(" ", 1)[0]
            with av.open(os.path.join(tiny_set.root, relative)) as container:
                frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
            expected.update(relative.encode())
            expected.update(repr(tuple(frames.shape)).encode())
            expected.update(frames.tobytes())
            count += 1
    digest = decoded_clips_digest([tiny_set.train_list, tiny_set.val_list], tiny_set.root, backend="pyav")
    assert digest == {"sha256": expected.hexdigest(), "clips": count, "frames": 6 * count}
    # the automatic backend (torchcodec where installed) decodes the same frames
    assert decoded_clips_digest([tiny_set.train_list, tiny_set.val_list], tiny_set.root)["sha256"] == digest["sha256"]


def test_build_fingerprint_records_and_flags_disagreement(tiny_set, tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "start.pth")
    environment = run_environment()
    assert environment["capability"] == torch.backends.cpu.get_cpu_capability()
    clips = {"sha256": "ab" * 32, "clips": 5, "frames": 30}
    rows = [{"kind": "motion", "clips_digest": clips, "environment": environment} for _ in range(2)]
    first = build_fingerprint(rows=rows, datasets={"motion": tiny_set}, pretrained_path=str(tmp_path / "start.pth"),
                              processes=2)
    assert first["data"]["motion"]["decoded"] == clips and first["data"]["motion"]["spec"] == tiny_set.spec.fingerprint()
    assert first["pretrained_2d"]["sha256"] == tensors_digest({"w": torch.ones(2)})
    assert first["cpu"]["capability"] == environment["capability"] and first["threads_per_run"] == environment["threads"]
    assert first["software"]["torch"] == torch.__version__ and len(first["digest"]) == 16
    # another capability (another machine) changes the digest; workers that decoded differently are flagged
    other = [{**row, "environment": {**environment, "capability": "DEFAULT"}} for row in rows]
    second = build_fingerprint(rows=other, datasets={"motion": tiny_set}, pretrained_path=str(tmp_path / "start.pth"),
                               processes=2)
    assert second["digest"] != first["digest"]
    split = [rows[0], {**rows[1], "clips_digest": {**clips, "sha256": "cd" * 32}}]
    third = build_fingerprint(rows=split, datasets={"motion": tiny_set}, pretrained_path=None, processes=2)
    assert len(third["data"]["motion"]["decoded"]["disagree"]) == 2
    # the process count does not change a number (runs are bit-identical with --jobs 1 and 2): recorded, not hashed
    one_process = build_fingerprint(rows=rows, datasets={"motion": tiny_set},
                                    pretrained_path=str(tmp_path / "start.pth"), processes=1)
    assert one_process["processes"] == 1 and one_process["digest"] == first["digest"]


def test_recipe_digest_ignores_where_and_which_seed_and_sees_every_recipe_key(tmp_path):
    from pathlib import Path

    from tanet.demo.fingerprint import recipe_digest
    from tanet.demo.runs import DEFAULT_PLAN, train_config
    from tanet.engine.config import load_config

    one = train_config(DEFAULT_PLAN, "motion", "tanet_r26", Path("/a/runs/seed0"), 0, pretrained="/home1/pretrain2d/r.pth")
    two = train_config(DEFAULT_PLAN, "motion", "tanet_r26", Path("/b/runs/seed3"), 3, pretrained="/home2/pretrain2d/r.pth")
    assert recipe_digest(one) == recipe_digest(two)  # another folder, seed and cache: the same recipe
    other_model = train_config(DEFAULT_PLAN, "motion", "tsm_r26", Path("/a"), 0, pretrained="/home1/pretrain2d/r.pth")
    scratch = train_config(DEFAULT_PLAN, "motion", "tanet_r26", Path("/a"), 0, pretrained=None)
    assert len({recipe_digest(one), recipe_digest(other_model), recipe_digest(scratch)}) == 3
    # one key of the recipe, as a commit that changes a shipped recipe would
    boosted = load_config(DEFAULT_PLAN.recipe, ["optim.linear_lr_policy=official"])
    plain = load_config(DEFAULT_PLAN.recipe, [])
    assert plain.optim.linear_lr_policy != "official" and recipe_digest(boosted) != recipe_digest(plain)


def test_build_fingerprint_hashes_each_cells_recipe(tiny_set):
    environment = run_environment()
    rows = [{"kind": "motion", "model": "tanet", "recipe_digest": "r1", "environment": environment},
            {"kind": "motion", "model": "tanet", "recipe_digest": "r1", "environment": environment},
            {"kind": "motion", "model": "tsn", "recipe_digest": "r2", "environment": environment}]
    first = build_fingerprint(rows=rows, datasets={}, pretrained_path=None, processes=1)
    assert first["recipes"] == {"motion/tanet": "r1", "motion/tsn": "r2"}
    changed = build_fingerprint(rows=rows[:2] + [{**rows[2], "recipe_digest": "r3"}], datasets={}, pretrained_path=None,
                                processes=1)
    assert changed["digest"] != first["digest"]
    split = build_fingerprint(rows=[rows[0], {**rows[1], "recipe_digest": "r9"}], datasets={}, pretrained_path=None,
                              processes=1)
    assert split["recipes"]["motion/tanet"]["disagree"] == ["r1", "r9"]
