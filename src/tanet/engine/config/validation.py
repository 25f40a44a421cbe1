"""What a recipe's values must satisfy beyond their types: choices, ranges, finite numbers, and the
keys that exclude each other. Runs whenever a config is built (recipe, overrides, a checkpoint's record),
so a bad value stops a run before it writes anything."""
from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

from .fields import ConfigError

__all__ = ["LINEAR_POLICY_NAMES", "TEST_PROTOCOL_NAMES", "validate"]

# tanet.data.TEST_PROTOCOLS (not imported: loading a config must not load torch)
TEST_PROTOCOL_NAMES = ("efficient", "accurate", "twice_sample", "dense")
# optim.linear_lr_policy's values past "auto" (engine.optim.build_param_groups takes these)
LINEAR_POLICY_NAMES = ("official", "classifier", "except_classifier", "none")
# the seeds numpy and torch both accept (numpy's generator takes [0, 2**32))
SEED_RANGE = (0, 2**32 - 1)


def validate(config: Any) -> None:
    """Check a :class:`~tanet.engine.config.TrainConfig`'s values that the type alone does not."""
    _check_finite(config, "")
    low, high = SEED_RANGE
    if not low <= config.runtime.seed <= high:
        raise ConfigError(f"runtime.seed must be in [{low}, {high}], got {config.runtime.seed}")
    _choice("data.sampling", config.data.sampling, ("segment", "dense"))
    if config.data.synthetic.kind is not None:
        _choice("data.synthetic.kind", config.data.synthetic.kind, ("motion", "appearance"))
        _choice("data.synthetic.preset", config.data.synthetic.preset, ("default", "quick"))
    _choice("data.sampling_rule", config.data.sampling_rule, ("official", "spread"))
    for key in ("val_protocol", "test_protocol"):
        _choice(f"data.{key}", getattr(config.data, key), TEST_PROTOCOL_NAMES)
    for key in ("size", "scale_size", "dense_interval"):
        value = getattr(config.data, key)
        if value is not None and value < 1:
            raise ConfigError(f"data.{key} must be >= 1, got {value}")
    if config.data.flip not in (True, False, "auto", "swap"):
        raise ConfigError(f"data.flip must be auto, true, false or swap, got {config.data.flip!r}")
    _choice("model.zero_init_last", config.model.zero_init_last, (True, False, "auto"))
    _choice("optim.name", config.optim.name, ("sgd", "adamw"))
    _choice("optim.linear_lr_policy", config.optim.linear_lr_policy,
            ("auto",) + LINEAR_POLICY_NAMES)
    _choice("schedule.name", config.schedule.name, ("step", "cosine"))
    _choice("runtime.amp", config.runtime.amp, ("none", "bf16", "fp16"))
    _choice("runtime.dist_backend", config.runtime.dist_backend, ("auto", "nccl", "gloo"))
    _choice("runtime.tensorboard", config.runtime.tensorboard, (True, False, "auto"))
    workers = config.data.num_workers
    if isinstance(workers, str) and workers != "auto" or isinstance(workers, int) and workers < 0:
        raise ConfigError(f"data.num_workers must be >= 0 or auto, got {workers!r}")
    _choice("runtime.channels_last", config.runtime.channels_last, (True, False, "auto"))
    for key, value, low in (
        ("data.batch_size", config.data.batch_size, 1),
        ("model.num_segments", config.model.num_segments, 1),
        ("schedule.epochs", config.schedule.epochs, 1),
        ("runtime.eval_every", config.runtime.eval_every, 1),
        ("data.size", config.data.size, 1),
        ("data.scale_size", config.data.scale_size, 1),
        ("data.val_batch_size", config.data.val_batch_size, 1),
        ("data.dense_interval", config.data.dense_interval, 1),
        ("model.num_classes", config.model.num_classes, 1),
        ("optim.base_batch_size", config.optim.base_batch_size, 1),
        ("runtime.max_steps_per_epoch", config.runtime.max_steps_per_epoch, 1),
        ("runtime.num_threads", config.runtime.num_threads, 1),
        ("runtime.log_every", config.runtime.log_every, 0),
    ):
        if value is not None and value < low:
            raise ConfigError(f"{key} must be >= {low}, got {value}")
    for key, value in (("optim.lr", config.optim.lr), ("model.width", config.model.width)):
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    for key, value in (("optim.momentum", config.optim.momentum), ("optim.weight_decay", config.optim.weight_decay),
                       ("schedule.warmup_epochs", config.schedule.warmup_epochs),
                       ("optim.clip_grad_norm", config.optim.clip_grad_norm)):
        if value is not None and value < 0:
            raise ConfigError(f"{key} must be >= 0, got {value}")
    if not 0.0 < config.schedule.gamma <= 1.0:
        raise ConfigError(f"schedule.gamma must be in (0, 1] (the factor the lr is multiplied by at each "
                          f"milestone), got {config.schedule.gamma}")
    for key, value in (("schedule.min_lr_factor", config.schedule.min_lr_factor),
                       ("schedule.warmup_start_factor", config.schedule.warmup_start_factor),
                       ("data.max_skip_fraction", config.data.max_skip_fraction),
                       ("optim.label_smoothing", config.optim.label_smoothing)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{key} must be in [0, 1], got {value}")
    if not config.data.crop_scales or any(not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 1
                                        for v in config.data.crop_scales):
        raise ConfigError(f"data.crop_scales must be a non-empty list of fractions in (0, 1], "
                          f"got {config.data.crop_scales}")
    if any(not isinstance(m, (int, float)) or isinstance(m, bool) or m < 0 for m in config.schedule.milestones):
        raise ConfigError(f"schedule.milestones must be epochs >= 0, got {config.schedule.milestones}")
    if config.runtime.resume and config.runtime.overwrite:
        raise ConfigError("runtime.resume and runtime.overwrite exclude each other: "
                          "resume continues the run in runtime.out, overwrite replaces it")
    # "scratch" is the choice of no weights, not a source
    sources = [key for key in ("pretrained", "init_from", "weights") if getattr(config.model, key) not in (None, "", "scratch")]
    if len(sources) > 1:
        raise ConfigError("give one of model.pretrained (a 2D ImageNet file), model.init_from (a video "
                          "checkpoint) and model.weights (a published one), not " + " and ".join(sources))
    if config.model.weights_file and not config.model.weights:
        raise ConfigError("model.weights_file is the local copy of model.weights (a published name); "
                          "for any other video checkpoint use model.init_from (--init-from FILE)")
    if not 0.0 <= config.model.dropout < 1.0:
        raise ConfigError(f"model.dropout must be in [0, 1), got {config.model.dropout}")
    t = config.model.temporal
    _choice("model.temporal.tam_position", t.tam_position, ("a", "b", "c", "d"))
    _choice("model.temporal.tam_branches", t.tam_branches, ("both", "local", "global"))
    _choice("model.temporal.inflate_init", t.inflate_init, ("centre", "spread"))
    if t.tam_kernel_size < 1 or t.tam_kernel_size % 2 == 0:
        raise ConfigError(f"model.temporal.tam_kernel_size must be odd and >= 1, got {t.tam_kernel_size}")
    bad_stages = [stage for stage in t.temporal_stages if stage not in (1, 2, 3, 4)]
    if bad_stages or len(set(t.temporal_stages)) != len(t.temporal_stages):
        raise ConfigError(f"model.temporal.temporal_stages must be distinct stages 1..4, got {t.temporal_stages}")
    for key, value in (("tam_alpha", t.tam_alpha), ("tam_beta", t.tam_beta),
                       ("shift_fold_div", t.shift_fold_div), ("inflate_size", t.inflate_size)):
        if value < 1:
            raise ConfigError(f"model.temporal.{key} must be >= 1, got {value}")


def _check_finite(section: Any, prefix: str) -> None:
    """NaN or infinity in any float key is an error (a comparison such as ``lr <= 0`` lets NaN through)."""
    for f in fields(section):
        value = getattr(section, f.name)
        if is_dataclass(value):
            _check_finite(value, f"{prefix}{f.name}.")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{prefix}{f.name} must be a finite number, got {value}")
        elif isinstance(value, list) and any(isinstance(v, float) and not math.isfinite(v) for v in value):
            raise ConfigError(f"{prefix}{f.name} must hold finite numbers, got {value}")


def _choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}")
