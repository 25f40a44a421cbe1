"""`tanet models` and `tanet recipes`: one line per entry, with the whole description."""
from __future__ import annotations

import pytest

from tanet.cli import main
from tanet.engine.config import RECIPES


def _lines(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def test_models_prints_each_description_whole(capsys):
    from tanet.models import list_models, model_entrypoint

    lines = _lines(capsys, "models")
    assert len(lines) == len(list_models())
    for name, line in zip(list_models(), lines):
        # the docstring's first paragraph, on one line (i3d311_r50's runs over two source lines)
        paragraph = " ".join(model_entrypoint(name).__doc__.strip().split("\n\n")[0].split())
        assert line.split(None, 1) == [name, paragraph]
    assert any(line.endswith('2D weights on the centre tap unless ``inflate_init="spread"``).') for line in lines)


def test_models_with_a_pattern_that_matches_nothing_is_a_usage_error(capsys):
    assert [line.split()[0] for line in _lines(capsys, "models", "tsm_*")] == ["tsm_r101", "tsm_r18", "tsm_r26",
                                                                               "tsm_r34", "tsm_r50"]
    assert main(["models", "tsm_r5O"]) == 2
    assert "no registered model matches 'tsm_r5O'" in capsys.readouterr().err


def test_recipes_lists_every_shipped_recipe_with_its_first_sentence(capsys):
    lines = _lines(capsys, "recipes")
    names = sorted(path.stem for path in RECIPES.glob("*.yaml"))
    listed = [line.split(None, 1) for line in lines[:len(names)]]
    assert [name for name, _ in listed] == names  # not the _base_ files
    described = dict(listed)
    # the opening comment's first sentence, also where it runs over two lines of the file
    assert described["demo"] == ("The `tanet demo` recipe: a tiny ResNet-26 (width 1/8) on a built-in synthetic set, "
                                 "trained from scratch on a laptop CPU.")
    assert described["cpu_tiny"] == "Tiny CPU recipe: a width-1/8 TANet-R18 on 32x32 crops, 4 frames, 2 epochs."
    assert lines[len(names):] == ["", "use one with: tanet train NAME [flags]   (tanet train NAME --print-config "
                                      "shows all its values)"]


@pytest.mark.parametrize("text, sentence", [
    ("# One. Two.\nmodel: {}\n", "One."),
    ("# Uses e.g. `tanet synth` data\n# and more. Then.\n", "Uses e.g. `tanet synth` data and more."),
    ("# (see _base_/sthv1.yaml).\n", "(see _base_/sthv1.yaml)."),
    ("model: {}\n", ""),
])
def test_recipe_summary_is_the_first_sentence_of_the_opening_comment(tmp_path, text, sentence):
    from tanet.cli.recipes import summary

    (tmp_path / "r.yaml").write_text(text)
    assert summary(tmp_path / "r.yaml") == sentence
