"""Training, evaluation and inference engine.

Python API::

    from tanet.engine import Trainer, load_config, train
    config = load_config("configs/cpu_tiny.yaml", ["optim.lr=0.02"])
    result = train(config)            # = Trainer(config).fit() -> TrainResult (paths, best top-1, history)
    resolve_training(config).describe()  # every value the run will use, derived ones with their reason

    from tanet.engine import predict_videos
    for p in predict_videos(["clips/", "long.mp4"], "runs/x/best.pt"):   # folders, lists, globs
        print(p.video, p.names[0], p.probabilities[0], p.timeline)        # timeline: long videos

Command line: ``tanet train``, ``tanet test``, ``tanet predict``, ``tanet plot``.
"""
from tanet.engine.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    ScheduleConfig,
    TemporalConfig,
    TrainConfig,
    load_config,
)
from tanet.engine.evaluation import evaluate, predict_views
from tanet.engine.optim import build_optimizer, build_param_groups
from tanet.engine.predict import Prediction, predict_videos
from tanet.engine.resolve import ResolvedConfig, resolve_for_eval, resolve_training
from tanet.engine.schedule import ScheduledLR, WarmupSchedule
from tanet.engine.trainer import NonFiniteLossError, Trainer, TrainResult, train

__all__ = [
    "ConfigError", "DataConfig", "ModelConfig", "OptimConfig", "RuntimeConfig", "ScheduleConfig",
    "TemporalConfig", "TrainConfig", "load_config", "evaluate", "predict_views", "build_optimizer",
    "build_param_groups", "ScheduledLR", "WarmupSchedule", "NonFiniteLossError", "Trainer", "TrainResult",
    "train", "predict_videos", "Prediction", "ResolvedConfig", "resolve_training", "resolve_for_eval",
]
