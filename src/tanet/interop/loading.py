"""The one path that puts weights from a file into a model, whatever wrote the file.

Layouts: tanet's own checkpoints, the official TAM code, MMAction2, and 2D ImageNet ResNets of
torchvision or timm (for the 2D part of a video model). :func:`read_checkpoint` reads a file safely
and maps it to native keys; :func:`load_weights` puts it into a model through the one key report
(:func:`tanet.checkpoint.load_state_checked`).
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import torch
from torch import nn

from tanet.checkpoint import (
    CheckpointError,
    extract_model_state,
    is_native_checkpoint,
    load_checkpoint_inert,
    load_state_checked,
)
from tanet.modules.temporal import InflatedConv

from .architecture import SETTLED_BY, AmbiguousArchitectureError, ArchitectureError, infer_architecture
from .formats import UnknownFormatError, to_native

__all__ = ["LoadedCheckpoint", "LoadReport", "read_checkpoint", "settle_architecture", "load_weights"]

ClassifierPolicy = Literal["load", "auto", "reset"]


@dataclass
class LoadedCheckpoint:
    """A checkpoint file read and mapped to native keys."""

    path: str
    source_format: str  # "native", "official", "mmaction2" or "resnet2d"
    state_dict: dict[str, torch.Tensor]
    # the create_model arguments the file determines (see `undetermined`); None for a 2D backbone
    model_config: Optional[dict[str, Any]]
    class_names: Optional[list[str]]
    unrecognised_keys: list[str]
    dropped_keys: list[str] = field(default_factory=list)  # e.g. the ImageNet classifier of a 2D file
    data: dict = field(default_factory=dict, repr=False)  # the whole file (training state, config, ...)
    # Python objects outside the weights that were not rebuilt ("module.Class"), e.g. mmengine's message hub
    ignored_objects: list[str] = field(default_factory=list)
    # architecture arguments the file leaves open -> their candidates (empty: any value), e.g. a bare
    # state dict's {"name": ("tsn_r18", "tsm_r18"), "num_segments": ()}; settle_architecture() asks for them
    undetermined: dict[str, tuple] = field(default_factory=dict)

    @property
    def backbone_only(self) -> bool:
        return self.source_format == "resnet2d"


@dataclass
class LoadReport:
    """What :func:`load_weights` did."""

    path: str
    source_format: str
    left_at_init: list[str]  # model keys the file did not provide (temporal modules of a 2D backbone)
    classifier_reset: bool  # the classifier kept its fresh initialisation
    dropped_keys: list[str]  # file keys not loaded (an ImageNet or other-class-count classifier)
    class_names: Optional[list[str]]
    checkpoint: LoadedCheckpoint = field(repr=False)
    partial: bool = False  # a checkpoint of another family: its shared backbone loaded, the rest fresh


def _class_names_from_meta(data: Mapping[str, Any]) -> Optional[list[str]]:
    meta = data.get("meta")
    if not isinstance(meta, Mapping):
        return None
    for holder in (meta, meta.get("dataset_meta")):
        if isinstance(holder, Mapping):
            for key in ("CLASSES", "classes"):
                names = holder.get(key)
                if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
                    return list(names)
    return None


def _num_segments_from_meta(data: Mapping[str, Any]) -> Optional[int]:
    """T as MMAction2 records it: the config text in ``meta`` (``num_segments=8`` of ResNetTSM / the head)."""
    meta = data.get("meta")
    texts = [meta.get(key) for key in ("cfg", "config")] if isinstance(meta, Mapping) else []
    values = {int(found) for text in texts if isinstance(text, str)
              for found in re.findall(r"num_segments\s*=\s*(\d+)", text)}
    return values.pop() if len(values) == 1 else None


def read_checkpoint(path: Union[str, os.PathLike], source_format: str = "auto") -> LoadedCheckpoint:
    """Read a checkpoint safely, detect its layout, map it to native keys.

    ``torch.load(weights_only=True)``; a file that also carries other Python objects (an MMAction2 /
    mmengine ``epoch_N.pth`` with its ``message_hub``) has its weights read without running any of
    that code, the objects named in ``ignored_objects`` and a warning
    (:func:`tanet.checkpoint.load_checkpoint_inert`). The architecture comes from a native
    checkpoint's ``model_config``, else it is inferred from the weights
    (:func:`~tanet.interop.architecture.infer_architecture`; what they leave open is in ``undetermined``,
    T also from MMAction2's recorded config); a 2D backbone has none.
    """
    data, ignored = load_checkpoint_inert(path)
    if ignored:
        warnings.warn(f"{path}: read the weights only; not loaded (objects of other code outside the "
                      f"weights): {', '.join(ignored)}", UserWarning, stacklevel=2)
    native_file = is_native_checkpoint(data)
    state = extract_model_state(data, source=path)
    not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(path, f"the weights hold non-tensor entries: {not_tensors[:10]}")
    try:
        converted = to_native(state, "native" if native_file else source_format)
    except (UnknownFormatError, ValueError) as error:
        raise CheckpointError(path, str(error)) from None
    model_config = data.get("model_config") if native_file else None
    undetermined: dict[str, tuple] = {}
    if converted.backbone_only:
        model_config = None
    elif not isinstance(model_config, dict) or "name" not in model_config:
        foreign = converted.source_format != "native"  # its layout shows TSM's shift; its TAMs sit at b
        try:
            inferred = infer_architecture(converted.state_dict, temporal_shift=converted.temporal_shift if foreign
                                          else None, tam_position="b" if foreign else None)
        except ArchitectureError as error:
            raise CheckpointError(path, f"{converted.source_format} checkpoint: {error}") from None
        model_config, undetermined = inferred.config, dict(inferred.undetermined)
        recorded_segments = _num_segments_from_meta(data)
        if "num_segments" in undetermined and recorded_segments is not None:
            model_config["num_segments"] = recorded_segments
            del undetermined["num_segments"]
    class_names = data.get("class_names") if native_file else _class_names_from_meta(data)
    return LoadedCheckpoint(
        str(path), converted.source_format, converted.state_dict,
        dict(model_config) if model_config is not None else None,
        list(class_names) if class_names else None, converted.unrecognised, converted.dropped, data, ignored,
        undetermined,
    )


def _undetermined_text(key: str, candidates: tuple) -> str:
    flag, python = SETTLED_BY[key]
    if key == "name":
        return (f"the model is {' or '.join(candidates)} (TSM's temporal shift has no weights): {flag} "
                f"{'|'.join(candidates)} (Python: {python})")
    if key == "num_segments":
        return f"the frames per clip T are not recorded (TSN/TSM/I3D weights do not depend on T): {flag} T ({python}T)"
    return (f"TAM sits at position {' or '.join(candidates)} (its channel count fits each): {flag} "
            f"{'|'.join(candidates)} ({python}...)")


def settle_architecture(loaded: LoadedCheckpoint, name: Optional[str] = None,
                        **given: Any) -> tuple[str, dict[str, Any]]:
    """The model name and ``build_model`` arguments of ``loaded``: what the file determines, with ``name``
    and the ``given`` arguments (those not None) replacing parts of it.

    An argument the file leaves open (:attr:`LoadedCheckpoint.undetermined`) and the caller does not
    give is never guessed: :class:`~tanet.interop.architecture.AmbiguousArchitectureError` names the
    candidates and the flags (``--model``, ``--segments``, ``--tam-position``) that settle it.
    """
    config = dict(loaded.model_config or {})
    file_name = config.pop("name", None)
    config.pop("pretrained", None)
    config.update({key: value for key, value in given.items() if value is not None})
    name = name or file_name
    chosen = {"name": name, **config}
    missing = [_undetermined_text(key, candidates) for key, candidates in loaded.undetermined.items()
               if chosen.get(key) is None]
    if missing:
        raise AmbiguousArchitectureError(loaded.path, "the weights do not determine the model, and nothing is "
                                                      "guessed: " + "; ".join(missing))
    return name, config


def _inflate_2d_kernels(state: dict[str, torch.Tensor], target: Mapping[str, torch.Tensor],
                        inits: Mapping[str, str]) -> dict[str, torch.Tensor]:
    """2D kernels (out, in, k, k) where the model has inflated (out, in, t, k, k) ones, inflated as that
    conv's ``init`` says (``inits``: weight key -> "centre" or "spread"; centre tap when unknown)."""
    inflated = dict(state)
    for key, value in state.items():
        wanted = target.get(key)
        if (wanted is not None and value.dim() == 4 and wanted.dim() == 5
                and value.shape[:2] == wanted.shape[:2] and value.shape[2:] == wanted.shape[3:]):
            inflated[key] = InflatedConv.inflate_2d_weight(value, wanted.shape[2], inits.get(key, "centre"))
    return inflated


def _classifier_keys(model: nn.Module) -> list[str]:
    classifier = model.get_classifier() if hasattr(model, "get_classifier") else getattr(model, "fc", None)
    if classifier is None:
        return []
    prefix = next(name for name, module in model.named_modules() if module is classifier)
    return [f"{prefix}.{name}" for name in classifier.state_dict()]


def load_weights(model: nn.Module, source: Union[str, os.PathLike, LoadedCheckpoint], *,
                 source_format: str = "auto", classifier: ClassifierPolicy = "load") -> LoadReport:
    """Load weights of any known layout into ``model`` and report what happened.

    * A video checkpoint (native, official TAM, MMAction2) must fit exactly: any missing, unexpected
      or mis-shaped key is a :class:`~tanet.checkpoint.CheckpointError` naming the file and the keys.
    * A 2D ImageNet ResNet (torchvision/timm keys) fills the 2D part: every 2D key of the model must be
      in the file; the temporal modules and the classifier keep their initialisation; 2D kernels of
      I3D's inflated convs are inflated as the model's ``inflate_init`` says (centre tap, or spread
      evenly over the taps).
    * ``classifier``: ``"load"`` (default) the file's classifier must fit; ``"auto"`` (fine-tuning)
      load it when its shape fits, else keep the model's fresh one and say so in the report;
      ``"reset"`` always keep the fresh one.

    Class names found in the file are set on the model (``model.class_names``) unless the
    classifier was reset.
    """
    loaded = source if isinstance(source, LoadedCheckpoint) else read_checkpoint(Path(source), source_format)
    where = f"{loaded.path} ({loaded.source_format} layout)"
    state = dict(loaded.state_dict)
    own = model.state_dict()
    classifier_keys = _classifier_keys(model)
    dropped = list(loaded.dropped_keys)
    reset = False
    if loaded.backbone_only:
        inits = {f"{name}.weight": module.init for name, module in model.named_modules()
                 if isinstance(module, InflatedConv)}
        state = _inflate_2d_kernels(state, own, inits)
        allow = [key for key in own if ".tam." in key] + classifier_keys
        reset = True
    else:
        allow = []
        if classifier == "reset" or (classifier == "auto" and any(
                key in state and key in own and state[key].shape != own[key].shape for key in classifier_keys)):
            dropped += [key for key in classifier_keys if key in state]
            state = {key: value for key, value in state.items() if key not in classifier_keys}
            allow = classifier_keys
            reset = True
    left = load_state_checked(model, state, source=where, allow_missing=allow)
    class_names = None if reset else loaded.class_names
    if class_names is not None:
        model.class_names = class_names
    return LoadReport(loaded.path, loaded.source_format, [key for key in left if key not in classifier_keys],
                      reset, dropped, class_names, loaded)
