"""Evaluate a trained checkpoint on a list of videos (the ``tanet test`` command's engine)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from tanet.engine import distributed as dist_utils
from tanet.engine.checkpoint import load_trained_model
from tanet.engine.config import TrainConfig
from tanet.engine.evaluation import evaluate, format_metrics_table, save_confusion_png
from tanet.engine.training import data_kwargs, make_loader


def test_checkpoint(checkpoint: Union[str, Path], val_list: Union[str, Path], root: Optional[str] = None,
                    *, out: Optional[Union[str, Path]] = None, protocol: str = "efficient",
                    average: str = "score", view_chunk: int = 8, batch_size: int = 4,
                    num_workers: int = 0, device: str = "auto", amp: str = "none",
                    num_segments: Optional[int] = None, size: Optional[int] = None,
                    scale_size: Optional[int] = None, sampling: Optional[str] = None,
                    class_names: Optional[Sequence[str]] = None, strict: bool = False,
                    progress: bool = True) -> dict:
    """Rebuild the model of ``checkpoint``, evaluate it on ``val_list`` and write the results.

    Architecture, classes, segments and data settings come from the checkpoint; the keyword
    arguments override them. With ``out`` the main process writes ``metrics.json``
    (``top1``, ``top5``, ``mean_class_acc`` in percent, plus the protocol and counts) and
    ``confusion.png`` / ``confusion.csv`` (rows: true class). Works under ``torchrun`` (each process takes a shard). Returns the
    metrics dict (with the ``confusion`` tensor).
    """
    from tanet.data.dataset import build_test_dataset

    info = dist_utils.env_dist_info()
    torch_device = dist_utils.select_device(device, info)
    info = dist_utils.init_distributed(torch_device)
    try:
        overrides = {"num_segments": num_segments} if num_segments else {}
        model, state = load_trained_model(checkpoint, **overrides)
        model.to(torch_device)
        config = TrainConfig.from_dict(state["config"]) if isinstance(state.get("config"), dict) \
            else TrainConfig()
        config.model.num_segments = model.num_segments
        if sampling:
            config.data.sampling = sampling
        config.data.strict = strict
        names = list(class_names) if class_names is not None else state.get("class_names")
        kwargs = data_kwargs(config)
        dataset = build_test_dataset(
            val_list, root or None, protocol=protocol, size=size or config.data.size,
            scale_size=scale_size or config.data.scale_size, num_classes=model.num_classes,
            **kwargs)
        loader = make_loader(dataset, batch_size,
                             dist_utils.ShardSampler(len(dataset), info.rank, info.world_size),
                             num_workers=num_workers, persistent_workers=False,
                             pin_memory=torch_device.type == "cuda", drop_last=False)
        metrics = evaluate(model, loader, model.num_classes, average=average,
                           view_chunk=view_chunk, device=torch_device, amp=amp,
                           progress=progress and info.is_main, desc=f"test ({protocol})")
        metrics.update(protocol=protocol, average=average, checkpoint=str(checkpoint),
                       val_list=str(val_list), num_segments=model.num_segments,
                       model=state["model_config"]["name"])
        if out is not None and info.is_main:
            out_dir = Path(out)
            out_dir.mkdir(parents=True, exist_ok=True)
            serialisable = {k: v for k, v in metrics.items() if not isinstance(v, torch.Tensor)}
            (out_dir / "metrics.json").write_text(json.dumps(serialisable, indent=2) + "\n")
            save_confusion_png(metrics["confusion"], out_dir / "confusion.png", names)
            np.savetxt(out_dir / "confusion.csv", metrics["confusion"].numpy(), fmt="%d",
                       delimiter=",")
        return metrics
    finally:
        if info.enabled:
            dist_utils.cleanup_distributed()


test_checkpoint.__test__ = False  # not a pytest test despite the name

__all__ = ["test_checkpoint", "format_metrics_table"]
