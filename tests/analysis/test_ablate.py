"""tanet ablate: grid parsing, early row validation, a 2-row run (1 epoch each), tables and resuming."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

import tanet
from tanet.analysis.ablate import expand_grid, parse_grid, row_config, run_ablation
from tanet.data.dataset import build_test_dataset
from tanet.engine.config import ConfigError

from .conftest import SEGMENTS, SIZE, tiny_config


def test_parse_grid_values_and_aliases():
    assert parse_grid("tam_position=a,b,c,d").values == ("a", "b", "c", "d")
    axis = parse_grid("alpha=1,2,4")
    assert axis.key == "tam_alpha" and axis.values == (1, 2, 4)
    assert parse_grid("K=3,5").key == "tam_kernel_size"
    assert parse_grid("stages=1234,234,4").values == ([1, 2, 3, 4], [2, 3, 4], [4])
    assert parse_grid("optim.lr=0.01,0.02").values == (0.01, 0.02)
    with pytest.raises(ConfigError, match="unknown grid key 'tam_colour'"):
        parse_grid("tam_colour=red")
    with pytest.raises(ConfigError, match="digits"):
        parse_grid("stages=25")
    with pytest.raises(ConfigError, match="KEY=V1"):
        parse_grid("tam_position")


def test_expand_grid_sweeps_and_product():
    axes = [parse_grid("style=a,b"), parse_grid("branches=local,global,both")]
    sweeps = expand_grid(axes)
    assert [row.label for row in sweeps] == ["tam_position=a", "tam_position=b", "tam_branches=local",
                                             "tam_branches=global", "tam_branches=both"]
    product = expand_grid(axes, product=True)
    assert len(product) == 6 and product[0].label == "tam_position=a, tam_branches=local"
    config = row_config(tiny_config(), product[-1])
    assert (config.model.temporal.tam_position, config.model.temporal.tam_branches) == ("b", "both")


def _base(tiny_sets, out: Path):
    motion = tiny_sets["motion"]
    config = tiny_config()
    config.model.num_classes = 2
    config.data.root = str(motion.root)
    config.data.train_list = str(motion.train_list)
    config.data.val_list = str(motion.val_list)
    config.data.batch_size = 2
    config.schedule.epochs = 1
    config.runtime.device = "cpu"
    config.runtime.progress = False
    config.runtime.tensorboard = False
    config.runtime.out = str(out / "ignored")
    return config


def test_invalid_row_fails_before_training(tiny_sets, tmp_path):
    # ResNet-18's BasicBlock has no TA-Block style c
    with pytest.raises(ConfigError, match=r"row 2 \(tam_position=c\).*has no TA-Block style 'c'.*tanet_r26"):
        run_ablation(_base(tiny_sets, tmp_path), ["tam_position=b,c"], tmp_path / "abl")
    assert not (tmp_path / "abl" / "runs").exists()


def test_two_row_ablation_tables_and_resume(tiny_sets, tmp_path, capsys):
    base = _base(tiny_sets, tmp_path)
    out = tmp_path / "abl"
    results = run_ablation(base, {"tam_branches": ["local", "global"]}, out)
    assert [r.label for r in results] == ["tam_branches=local", "tam_branches=global"]
    assert "[row 2/2] tam_branches=global" in capsys.readouterr().out

    motion = tiny_sets["motion"]
    videos = build_test_dataset(motion.val_list, motion.root, num_segments=SEGMENTS, size=SIZE, scale_size=36)
    clips = torch.stack([videos[i][0] for i in range(len(videos))])
    labels = torch.tensor([videos[i][1] for i in range(len(videos))])
    for result, branches in zip(results, ("local", "global")):
        # parameters of the architecture, counted directly
        model = tanet.create_model("tanet_r18", num_classes=2, num_segments=SEGMENTS, width=0.125, tam_branches=branches)
        assert result.params_m == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6)
        assert result.gflops > 0 and result.epochs == 1 and result.train_time_s > 0
        # top-1 of the row's final weights, recomputed from its checkpoint
        state = torch.load(result.checkpoint, weights_only=True)
        assert state["model_config"]["tam_branches"] == branches
        model.load_state_dict(state["model"])
        with torch.no_grad():
            logits = model.eval()(clips)
        assert result.top1 == pytest.approx(100.0 * (logits.argmax(1) == labels).float().mean().item())
        assert json.loads((Path(result.run_dir) / "result.json").read_text())["top1"] == result.top1
    assert results[0].params_m != results[1].params_m

    with open(out / "ablation.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["row"] for row in rows] == ["tam_branches=local", "tam_branches=global"]
    assert [float(row["top1"]) for row in rows] == pytest.approx([r.top1 for r in results])
    markdown = (out / "ablation.md").read_text()
    assert "| tam_branches=local |" in markdown and "GFLOPs" in markdown

    # rerun: both rows are read back, nothing is trained again
    stamps = [Path(r.checkpoint).stat().st_mtime_ns for r in results]
    again = run_ablation(base, ["tam_branches=local,global"], out)
    assert all(r.reused for r in again) and [r.top1 for r in again] == [r.top1 for r in results]
    assert [Path(r.checkpoint).stat().st_mtime_ns for r in results] == stamps
    assert "done before" in capsys.readouterr().out


def test_identical_rows_train_once(tiny_sets, tmp_path):
    # TA-Block style b and both branches are the defaults: the two rows are one recipe, trained once
    base = _base(tiny_sets, tmp_path)
    results = run_ablation(base, ["tam_position=b", "tam_branches=both"], tmp_path / "abl")
    assert [r.label for r in results] == ["tam_position=b", "tam_branches=both"]
    assert results[0].run_dir == results[1].run_dir
    assert not results[0].reused and results[1].reused
    assert results[0].top1 == results[1].top1
    assert len(list((tmp_path / "abl" / "runs").iterdir())) == 1


def test_cli_dry_run_and_errors(tiny_sets, tmp_path, capsys):
    from tanet.cli import main

    motion = tiny_sets["motion"]
    recipe = Path(__file__).resolve().parents[2] / "configs" / "cpu_tiny.yaml"
    common = [str(recipe), "--root", str(motion.root), "--train-list", str(motion.train_list),
              "--val-list", str(motion.val_list), "--num-classes", "2", "--out", str(tmp_path / "abl")]
    assert main(["ablate", *common, "--grid", "style=a,b,d", "--grid", "stages=234,4", "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and "tam_position=a" in lines[0] and "temporal_stages=4" in lines[4]
    assert not (tmp_path / "abl").exists()
    assert main(["ablate", *common, "--grid", "style=c", "--dry-run"]) == 2
    assert "row 1 (tam_position=c)" in capsys.readouterr().err
    assert main(["ablate", *common, "--grid", "colour=red"]) == 2
    assert "unknown grid key 'colour'" in capsys.readouterr().err
    assert main(["ablate", *common]) == 2
    assert "--grid" in capsys.readouterr().err


def test_seeds_give_intervals_against_the_paper_choice(tiny_sets, tmp_path):
    from tanet.analysis.ablate import ablation_claims
    from tanet.analysis.evidence import paired_difference, verdict

    base = _base(tiny_sets, tmp_path)
    out = tmp_path / "abl"
    results = run_ablation(base, ["tam_branches=local,both"], out, seeds=2, jobs=2)
    assert [(r.label, r.seed) for r in results] == [("tam_branches=local", 0), ("tam_branches=local", 1),
                                                     ("tam_branches=both", 0), ("tam_branches=both", 1)]
    assert all(Path(r.run_dir).name == f"seed{r.seed}" for r in results)
    # the two seeds are two runs: different folders, each with its own result
    assert len({r.run_dir for r in results}) == 4
    summary = ablation_claims(results, base)["tam_branches"]
    assert summary["choice"] == "tam_branches=both"
    local = [r.top1 for r in results if r.label == "tam_branches=local"]
    both = [r.top1 for r in results if r.label == "tam_branches=both"]
    claim = summary["rows"]["tam_branches=local"]["claim"]
    expected = paired_difference(local, both)
    assert (claim.interval.low, claim.interval.high) == (expected.low, expected.high)
    assert claim.verdict == verdict(expected, "less")
    table = (out / "ablation.md").read_text()
    assert "(the choice)" in table and "paper's choice: tam_branches=both" in table
    stored = json.loads((out / "ablation.json").read_text())
    assert stored["claims"][0]["name"].startswith("tam_branches=local is below")
    with open(out / "ablation.csv") as handle:
        assert [row["seed"] for row in csv.DictReader(handle)] == ["0", "1", "0", "1"]


def test_a_recipe_on_a_built_in_set_needs_no_lists(tmp_path, monkeypatch, capsys):
    # `tanet ablate demo ...` (the README's command): the set's lists come from data.synthetic
    from tanet.cli import main

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    assert main(["ablate", "demo_quick", "--grid", "style=a,b", "--out", str(tmp_path / "abl"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "tam_position=a" in lines[0] and "tam_position=b" in lines[1]
    assert not (tmp_path / "home" / "pretrain2d").exists()  # a dry run trains nothing


# -- TA-Block styles a to d on the bottleneck family, and rows that cannot work --------------------------------


def test_all_four_styles_on_r26_over_seeds(tiny_sets, tmp_path):
    from tanet.analysis.ablate import ablation_claims

    base = _base(tiny_sets, tmp_path)
    base.model.name = "tanet_r26"
    base.model.width = 0.0625
    results = run_ablation(base, ["style=a,b,c,d"], tmp_path / "abl", seeds=2, jobs=2)
    assert [(r.label, r.seed) for r in results] == [(f"tam_position={s}", seed) for s in "abcd" for seed in (0, 1)]
    for result in results:  # each row trained the style it names, in every bottleneck
        state = torch.load(result.checkpoint, weights_only=True)
        assert state["model_config"]["name"] == "tanet_r26"
        assert state["model_config"]["tam_position"] == result.overrides["tam_position"]
        assert sum(key.endswith(".tam.G.0.weight") for key in state["model"]) == 8
    # TAM's channels differ by style (d sees 4x the channels of b and c), so do the parameter counts
    params = {r.label: r.params_m for r in results}
    assert params["tam_position=b"] == params["tam_position=c"] < params["tam_position=d"]
    summary = ablation_claims(results, base)["tam_position"]
    assert summary["choice"] == "tam_position=b"  # the recipe's own value: the paper's model
    assert [label for label, row in summary["rows"].items() if row["claim"] is not None] == \
        ["tam_position=a", "tam_position=c", "tam_position=d"]


def _result(label: str, seed: int, top1: float):
    from tanet.analysis.ablation_results import AblationResult

    key, value = label.split("=")
    return AblationResult(sweep=key, label=label, overrides={key: value}, top1=top1, top5=100.0, mean_class_acc=top1,
                          params_m=1.0, gflops=0.1, train_time_s=1.0, epochs=1, config_hash=label, run_dir="",
                          checkpoint="", seed=seed)


def test_the_paper_choice_is_the_recipes_own_value():
    from tanet.analysis.ablation_tables import ablation_claims
    from tanet.analysis.evidence import paired_difference

    results = [_result(f"tam_position={style}", seed, top1)
               for style, values in (("a", (50.0, 52.0, 51.0)), ("b", (60.0, 61.0, 63.0)), ("c", (55.0, 58.0, 54.0)))
               for seed, top1 in enumerate(values)]
    config = tiny_config()
    assert ablation_claims(results, config)["tam_position"]["choice"] == "tam_position=b"  # the default recipe
    config.model.temporal.tam_position = "c"  # a recipe that chose style c: the rows are compared with c
    summary = ablation_claims(results, config)["tam_position"]
    assert summary["choice"] == "tam_position=c" and summary["rows"]["tam_position=c"]["claim"] is None
    claim = summary["rows"]["tam_position=a"]["claim"]
    expected = paired_difference([50.0, 52.0, 51.0], [55.0, 58.0, 54.0])  # a − c, paired by seed
    assert (claim.interval.low, claim.interval.high) == (expected.low, expected.high)


@pytest.mark.parametrize("arguments, message", [
    # the demo recipes train tanet_r26 (all four styles); the BasicBlock ResNet-18 has no style c
    (["--model", "tanet_r18", "--grid", "style=a,b,c,d"],
     "ablation row 3 (tam_position=c): ResNet-18 (BasicBlock) has no TA-Block style 'c'"),
    (["--grid", "style=a,b", "--set", "model.width=1e-6"], "smallest width that works for this model is 0.0625"),
])
def test_a_row_that_cannot_work_is_one_line_before_any_data(tmp_path, monkeypatch, capsys, arguments, message):
    from tanet.cli import main

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    for recipe in ("demo", "demo_pretrained"):
        assert main(["ablate", recipe, *arguments, "--out", str(tmp_path / "abl"), "--seeds", "3"]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0]
    if "style=a,b,c,d" in arguments:
        assert "tanet_r26 or tanet_r50" in error[0]
    assert not (tmp_path / "home").exists() and not (tmp_path / "abl").exists()  # nothing rendered, nothing written


def test_runner_and_tables_do_not_import_each_other():
    # issue 19: analysis/ablate.py <-> analysis/ablation_tables.py was an import circle (a TYPE_CHECKING import)
    import ast

    import tanet.analysis.ablation_tables as tables

    tree = ast.parse(Path(tables.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "tanet.analysis.ablate" not in imported and "tanet.analysis.ablation_results" in imported
