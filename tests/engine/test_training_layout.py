"""runtime.channels_last=auto: the training layout is decided once per device when the recipe is resolved,
recorded with its reason and printed in the run summary; an explicit value is kept."""
from __future__ import annotations

import pytest
import torch

from tanet.engine import load_config
from tanet.engine.config import ConfigError
from tanet.engine.resolve import resolve_training, training_layout


def test_auto_on_a_cpu_with_onednn_is_channels_last_with_the_capability_as_reason(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert training_layout("cpu", "none") == (True, "faster on this CPU (AVX512) with oneDNN")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert training_layout("cpu", "none")[0] is True
    # without AVX2 (ATen's DEFAULT kernels) the channels_last training step measured slower: the default stays
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    channels_last, reason = training_layout("cpu", "none")
    assert channels_last is False and "no AVX2" in reason
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    channels_last, reason = training_layout("cpu", "bf16")
    assert channels_last is False and "no oneDNN" in reason


def test_auto_on_a_gpu_follows_mixed_precision():
    # an explicit cuda device decides without a GPU being present
    assert training_layout("cuda:1", "fp16")[0] is True
    assert training_layout("cuda", "bf16")[0] is True
    assert training_layout("cuda", "none") == (False, "GPU in float32: cuDNN's default layout")


def test_auto_is_the_default_and_resolves_to_a_bool_in_the_summary():
    default = load_config(None, ["model.num_classes=3", "runtime.device=cpu"])
    assert default.runtime.channels_last == "auto"
    resolved = resolve_training(default)
    expected, reason = training_layout("cpu", "none")
    assert resolved.config.runtime.channels_last is expected
    assert resolved.derived["runtime.channels_last"] == reason
    assert f"layout: channels_last {str(expected).lower()} ({reason})" in resolved.describe()
    assert resolved.recipe.runtime.channels_last == "auto"  # config.yaml keeps the choice, not the outcome


@pytest.mark.parametrize("value", [True, False])
def test_an_explicit_layout_is_kept_and_not_marked_derived(value):
    resolved = resolve_training(load_config(None, ["model.num_classes=3", f"runtime.channels_last={value}"]))
    assert resolved.config.runtime.channels_last is value and "runtime.channels_last" not in resolved.derived
    assert f"layout: channels_last {str(value).lower()}" in resolved.describe()


def test_a_layout_that_is_neither_bool_nor_auto_is_refused():
    with pytest.raises(ConfigError, match="runtime.channels_last must be one of True, False, auto; got 'fast'"):
        load_config(None, ["model.num_classes=3", "runtime.channels_last=fast"])
