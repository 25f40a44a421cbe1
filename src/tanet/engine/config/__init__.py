"""Typed training configuration: dataclasses (:mod:`.schema`), their checks (:mod:`.validation`), typed
setting of values (:mod:`.fields`) and YAML recipes with ``base:`` chains and overrides (:mod:`.recipes`).

A recipe is one YAML file with the sections ``model`` (with its ``temporal`` sub-section), ``data``,
``optim``, ``schedule`` and ``runtime`` (all optional; missing keys keep their defaults). Every key can be
overridden as ``section.key=value`` (or ``model.temporal.key=value``), the value parsed as a YAML scalar
(``optim.lr=0.02``, ``schedule.milestones=[30,40]``). Unknown keys are errors that list the valid ones.
Values left ``None`` are derived when a run resolves its configuration (:mod:`tanet.engine.resolve`).
"""
from .fields import ConfigError, apply_dict, set_key
from .recipes import RECIPES, apply_override, load_config, recipe_path, save_config, valid_keys
from .schema import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    ScheduleConfig,
    SyntheticSetConfig,
    TemporalConfig,
    TrainConfig,
)
from .validation import TEST_PROTOCOL_NAMES

__all__ = [
    "ConfigError", "TemporalConfig", "ModelConfig", "SyntheticSetConfig", "DataConfig", "OptimConfig", "ScheduleConfig",
    "RuntimeConfig", "TrainConfig", "load_config", "apply_dict", "apply_override", "set_key",
    "valid_keys", "save_config", "recipe_path", "RECIPES", "TEST_PROTOCOL_NAMES",
]
