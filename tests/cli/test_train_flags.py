"""``tanet train`` flags that derive other values: new class names bring their own class count."""
from __future__ import annotations

import yaml

from tanet.cli import main


def _printed_model(capsys, *flags):
    assert main(["train", "tanet_r50_k400_8x", *flags, "--print-config"]) == 0
    return yaml.safe_load(capsys.readouterr().out)["model"]


def test_class_names_flag_lets_the_class_count_follow_the_names(tmp_path, capsys):
    names = tmp_path / "classes.txt"
    names.write_text("a\nb\nc\n")
    assert _printed_model(capsys)["num_classes"] == 400  # the Kinetics recipe's own count
    assert _printed_model(capsys, "--class-names", str(names))["num_classes"] is None  # from the 3 names
    assert _printed_model(capsys, "--class-names", str(names), "--num-classes", "3")["num_classes"] == 3
    assert _printed_model(capsys, "--class-names", str(names), "--set", "model.num_classes=7")["num_classes"] == 7


def test_fine_tuning_flags_reach_the_config(tmp_path, capsys):
    checkpoint, weights_file = tmp_path / "epoch_50.pth", tmp_path / "f.pth.tar"
    checkpoint.write_bytes(b"")  # the files must exist (a missing one is a usage error); nothing reads them here
    weights_file.write_bytes(b"")
    model = _printed_model(capsys, "--init-from", str(checkpoint))
    assert model["init_from"] == str(checkpoint) and model["weights"] is None
    model = _printed_model(capsys, "--weights", "tam_k400_8f", "--weights-file", str(weights_file),
                           "--allow-unverified")
    assert (model["weights"], model["weights_file"], model["allow_unverified"]) == \
        ("tam_k400_8f", str(weights_file), True)
    assert main(["train", "tanet_r50_k400_8x", "--init-from", str(checkpoint), "--weights", "tam_k400_8f",
                 "--print-config"]) == 2
    assert "give one of model.pretrained" in capsys.readouterr().err


def _recipe_with(tmp_path, **model):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"base": "demo.yaml", "model": model}))
    (tmp_path / "demo.yaml").write_text("model: {name: tanet_r18, width: 0.25}\n")
    return recipe


def test_a_weight_source_on_the_command_line_replaces_the_recipes(tmp_path, capsys):
    """issue 20: --init-from next to a recipe's model.pretrained was refused as two sources; the flag wins."""
    checkpoint = tmp_path / "k400.pt"
    checkpoint.write_bytes(b"")
    recipe = _recipe_with(tmp_path, pretrained="synthetic")
    assert main(["train", str(recipe), "--init-from", str(checkpoint), "--print-config"]) == 0
    model = yaml.safe_load(capsys.readouterr().out)["model"]
    assert model["init_from"] == str(checkpoint) and model["pretrained"] is None
    # --pretrained scratch replaces a recipe's video checkpoint (from scratch, on purpose)
    recipe = _recipe_with(tmp_path, init_from=str(checkpoint))
    assert main(["train", str(recipe), "--pretrained", "scratch", "--print-config"]) == 0
    model = yaml.safe_load(capsys.readouterr().out)["model"]
    assert model["pretrained"] == "scratch" and model["init_from"] is None
    # two sources on the command line itself are still one too many
    assert main(["train", str(recipe), "--init-from", str(checkpoint), "--weights", "tam_k400_8f",
                 "--print-config"]) == 2


def test_the_replacement_is_said_before_the_run(tmp_path, capsys, monkeypatch):
    import tanet.engine.trainer as trainer_module

    checkpoint = tmp_path / "k400.pt"
    checkpoint.write_bytes(b"")
    monkeypatch.setattr(trainer_module, "train", lambda config: (_ for _ in ()).throw(KeyboardInterrupt))
    main(["train", str(_recipe_with(tmp_path, pretrained="synthetic")), "--init-from", str(checkpoint),
          "--num-classes", "2"])
    assert f"--init-from {checkpoint} replaces the recipe's model.pretrained (synthetic)" in capsys.readouterr().out


def test_init_partial_reaches_the_config(capsys):
    assert _printed_model(capsys)["init_partial"] is False
    assert _printed_model(capsys, "--init-partial")["init_partial"] is True
