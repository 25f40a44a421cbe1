"""Evaluate a trained checkpoint on a list of videos (``tanet test``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from tanet.engine import distributed as dist_utils
from tanet.engine.builders import build_eval_dataset, load_for_eval
from tanet.engine.evaluation import evaluate, per_class_accuracy, save_confusion_png
from tanet.engine.resolve import stored_recipe
from tanet.engine.results import DUMP_SUFFIXES, confusion_csv, indexed_eval_loader, write_dump
from tanet.errors import TanetError, UsageError
from tanet.factory import ModelRecord, record_of
from tanet.interop.loading import read_checkpoint
from tanet.interop.weights import PretrainedWeights, get_weights, identify_weights, sha256_file
from tanet.utils.io import atomic_write_json, atomic_write_text

__all__ = ["test_checkpoint", "choose_protocol"]


def _published_protocol(entry: PretrainedWeights, how: str) -> Optional[tuple[str, str]]:
    if entry.protocol is None or entry.protocol.tanet_protocol is None:
        return None
    return entry.protocol.tanet_protocol, f"the published protocol of {entry.name} ({entry.dataset}), {how}"


def choose_protocol(source: Union[str, Path, ModelRecord, None], weights: Optional[str] = None,
                    protocol: Optional[str] = None) -> tuple[str, str]:
    """The test protocol for a checkpoint file (or the :class:`~tanet.factory.ModelRecord` of a model
    loaded from one; None: a model that records no file) and why, in this order: ``protocol`` when
    given; the published protocol of the data set the checkpoint is known to come from (``weights``: its
    registry name; else a file whose SHA-256 matches a published checkpoint, or a converted one that
    records such a source); the training recipe's ``data.test_protocol`` stored in a tanet checkpoint;
    else ``efficient``."""
    if protocol is not None:
        return protocol, "--protocol"
    if weights is not None:
        chosen = _published_protocol(get_weights(weights), "--weights")
        if chosen is not None:
            return chosen
    record = source if isinstance(source, ModelRecord) or source is None else record_of(read_checkpoint(Path(source)))
    if record is None:
        return "efficient", "the default: the model records no file it came from"
    if record.weights is not None:
        chosen = _published_protocol(get_weights(record.weights), "as published")
        if chosen is not None:
            return chosen
    recipe, recorded = stored_recipe(record.recipe)
    if recorded:
        return recipe.data.test_protocol, "the training recipe's data.test_protocol"
    source_file = Path(record.source)
    digest = record.source_sha256 or (sha256_file(source_file) if source_file.is_file() else None)
    entry = identify_weights(digest) if digest else None
    if entry is not None:
        how = "identified by its SHA-256" + (" before conversion" if record.source_sha256 else "")
        chosen = _published_protocol(entry, how)
        if chosen is not None:
            return chosen
    return "efficient", "the default: neither a training recipe nor a published data set is known for this checkpoint"


def test_checkpoint(checkpoint: Union[str, Path], val_list: Union[str, Path], root: Optional[str] = None,
                    *, out: Optional[Union[str, Path]] = None, protocol: Optional[str] = None,
                    average: str = "score", view_chunk: int = 8, batch_size: int = 4,
                    num_workers: int = 0, device: str = "auto", amp: str = "none",
                    num_segments: Optional[int] = None, size: Optional[int] = None,
                    scale_size: Optional[int] = None, sampling: Optional[str] = None,
                    class_names: Optional[Sequence[str]] = None, strict: bool = False,
                    progress: bool = True, dump: Optional[Union[str, Path]] = None,
                    inference: str = "fused", model: Optional[str] = None, tam_position: Optional[str] = None,
                    weights: Optional[str] = None) -> dict:
    """Rebuild the model of ``checkpoint``, evaluate it on ``val_list`` and write the results.

    Architecture, classes, segments and data settings come from the checkpoint; the keyword
    arguments override them; ``model``, ``num_segments`` and ``tam_position`` settle what a file that
    does not record them leaves open (a bare state dict). ``protocol=None``: :func:`choose_protocol`
    (``weights``: the registry name the file came from). With ``out`` the main process writes
    ``metrics.json`` (``top1``, ``top5`` -- null for 5 classes or fewer, where every label is in the
    top 5 --, ``mean_class_acc`` in percent, ``per_class`` accuracies, the protocol and why, counts),
    ``confusion.png`` (counts in the cells) and ``confusion.csv`` (rows: true class; the header row and
    the first column are the class names).
    ``dump`` (``.json`` or ``.csv``) receives every video's prediction and scores, named by class
    (:func:`tanet.engine.results.write_dump`). ``inference``: the model's inference path (see
    :func:`load_for_eval`). Works under ``torchrun`` (each process takes a shard). Returns the metrics
    dict (with the ``confusion`` tensor; its ``top5`` is always the measured one).

    Raises :class:`~tanet.errors.UsageError` for a value that cannot work (checked before anything
    is loaded; ``class_names`` of the wrong length before the evaluation runs) and
    :class:`~tanet.errors.TanetError` when no video could be read or the model's outputs are NaN/inf.
    """
    for name, value in (("view_chunk", view_chunk), ("batch_size", batch_size), ("num_segments", num_segments),
                        ("size", size), ("scale_size", scale_size)):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    if num_workers < 0:
        raise UsageError(f"num_workers must be >= 0, got {num_workers}")
    if dump is not None and Path(dump).suffix not in DUMP_SUFFIXES:
        raise UsageError(f"--dump {dump}: write .json or .csv (got {Path(dump).suffix or 'no suffix'})")
    info = dist_utils.env_dist_info()
    torch_device = dist_utils.select_device(device, info)
    info = dist_utils.init_distributed(torch_device)
    try:
        # the one resolution: the checkpoint's recipe with these overrides and the chosen protocol
        protocol, protocol_source = choose_protocol(checkpoint, weights, protocol)
        setup = load_for_eval(checkpoint, num_segments=num_segments, device=torch_device, inference=inference,
                              protocol=protocol, size=size, scale_size=scale_size, sampling=sampling, strict=strict,
                              class_names=class_names, name=model, tam_position=tam_position)  # `model`: asked for
        protocol = setup.protocol
        model = setup.model
        names = setup.class_names
        dataset = build_eval_dataset(setup, val_list, root)
        loader = indexed_eval_loader(dataset, batch_size, num_workers=num_workers, rank=info.rank,
                                     world_size=info.world_size, pin_memory=torch_device.type == "cuda")
        metrics = evaluate(model, loader, model.num_classes, average=average,
                           view_chunk=view_chunk, device=torch_device, amp=amp,
                           progress=progress and info.is_main, desc=f"test ({protocol})",
                           return_scores=dump is not None)
        if metrics["num_samples"] == 0:
            raise TanetError(f"no video of {val_list} could be read ({metrics['num_skipped']} skipped as "
                             "unreadable; see the warnings above): there is nothing to measure. Check --root "
                             "and the list (`tanet check-videos LIST --root ROOT`)")
        if metrics["num_nonfinite"]:
            raise TanetError(f"{checkpoint}: the model's scores were NaN/inf for {metrics['num_nonfinite']} of "
                             f"{metrics['num_samples']} videos, so its accuracy means nothing"
                             + (" (try without --amp)" if amp != "none" else ""))
        metrics.update(protocol=protocol, protocol_source=protocol_source, average=average,
                       checkpoint=str(checkpoint), val_list=str(val_list), num_segments=model.num_segments,
                       model=model.model_config["name"], inference=inference, num_classes=model.num_classes,
                       class_names=names, per_class=per_class_accuracy(metrics["confusion"], names))
        if dump is not None:
            indices, scores = _gather_scores(loader.indices, metrics.pop("scores"), info.enabled)
            metrics.pop("labels")
            if info.is_main:
                records = dataset.records
                write_dump(dump, [r.path for r in records], [r.label for r in records], indices, scores, names,
                           model.num_classes, {k: metrics[k] for k in ("checkpoint", "protocol", "average", "model")})
        if out is not None and info.is_main:
            out_dir = Path(out)
            out_dir.mkdir(parents=True, exist_ok=True)
            serialisable = {k: v for k, v in metrics.items() if not isinstance(v, torch.Tensor)}
            if model.num_classes <= 5:  # every label is among the top 5: 100 % by construction, not a result
                serialisable["top5"] = None
            atomic_write_json(out_dir / "metrics.json", serialisable)
            save_confusion_png(metrics["confusion"], out_dir / "confusion.png", names)
            atomic_write_text(out_dir / "confusion.csv", confusion_csv(metrics["confusion"], names))
        return metrics
    finally:
        if info.enabled:
            dist_utils.cleanup_distributed()


def _gather_scores(indices: list, scores: torch.Tensor, distributed: bool) -> tuple[list, torch.Tensor]:
    """Every process's (video index, scores) rows, on every process."""
    if not distributed:
        return list(indices), scores
    import torch.distributed as dist

    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (list(indices), scores.cpu()))
    return ([i for part, _ in gathered for i in part],
            torch.cat([part for _, part in gathered]) if gathered else scores)


test_checkpoint.__test__ = False  # not a pytest test despite the name
