"""Training, evaluation and inference engine.

Python API::

    from tanet.engine import load_config, train, evaluate
    config = load_config("configs/cpu_tiny.yaml", ["optim.lr=0.02"])
    result = train(config)            # -> TrainResult (paths, best top-1, history)

Command line: ``tanet train``, ``tanet test``, ``tanet predict``.
"""
from tanet.engine.checkpoint import (
    CheckpointError,
    load_checkpoint_file,
    load_model_state,
    load_trained_model,
    save_checkpoint,
)
from tanet.engine.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    ScheduleConfig,
    TrainConfig,
    load_config,
)
from tanet.engine.evaluation import evaluate, predict_views
from tanet.engine.optim import build_optimizer, build_param_groups
from tanet.engine.schedule import ScheduledLR, WarmupSchedule
from tanet.engine.training import NonFiniteLossError, TrainResult, train

__all__ = [
    "CheckpointError", "load_checkpoint_file", "load_model_state", "load_trained_model",
    "save_checkpoint", "ConfigError", "DataConfig", "ModelConfig", "OptimConfig",
    "RuntimeConfig", "ScheduleConfig", "TrainConfig", "load_config", "evaluate",
    "predict_views", "build_optimizer", "build_param_groups", "ScheduledLR", "WarmupSchedule",
    "NonFiniteLossError", "TrainResult", "train",
]
