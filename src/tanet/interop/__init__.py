"""Interoperability: checkpoints of the official TAM code, MMAction2 and 2D ImageNet ResNets,
published weights, export.

* :func:`load_weights` / ``create_model(..., checkpoint=PATH)``: any known layout, strict.
* :func:`convert_checkpoint` / ``tanet convert IN OUT``: a foreign checkpoint -> a native one.
* :data:`WEIGHTS` / ``create_model(..., weights="tam_k400_8f")``: published checkpoints.
* :func:`export_onnx`, :func:`export_program` / ``tanet export``: ONNX and ``torch.export``.
"""
from .architecture import (AmbiguousArchitectureError, ArchitectureError, InferredArchitecture, infer_architecture,
                           infer_model_config)
from .formats import FORMATS, detect_format, mmaction2_to_native, official_to_native, resnet2d_to_native, to_native
from .loading import LoadedCheckpoint, LoadReport, load_weights, read_checkpoint, settle_architecture
from .imagenet import IMAGENET_WEIGHTS, ImageNetWeights, is_imagenet, resolve_imagenet_file
from .weights import (
    WEIGHTS,
    EvalProtocol,
    PretrainedWeights,
    WeightsVerificationError,
    get_weights,
    identify_weights,
    kinetics400_class_names,
    list_weights,
    resolve_weights_file,
    verify_weights_file,
    weights_cache_dir,
)

__all__ = [
    "AmbiguousArchitectureError",
    "ArchitectureError",
    "InferredArchitecture",
    "infer_architecture",
    "infer_model_config",
    "FORMATS",
    "detect_format",
    "mmaction2_to_native",
    "official_to_native",
    "resnet2d_to_native",
    "to_native",
    "LoadedCheckpoint",
    "LoadReport",
    "load_weights",
    "read_checkpoint",
    "settle_architecture",
    "IMAGENET_WEIGHTS",
    "ImageNetWeights",
    "is_imagenet",
    "resolve_imagenet_file",
    "WEIGHTS",
    "EvalProtocol",
    "PretrainedWeights",
    "WeightsVerificationError",
    "get_weights",
    "identify_weights",
    "kinetics400_class_names",
    "list_weights",
    "resolve_weights_file",
    "verify_weights_file",
    "weights_cache_dir",
    "convert_checkpoint",
    "export_onnx",
    "export_program",
]


def __getattr__(name: str):
    # convert/export are imported when used: export pulls in torch.onnx machinery
    if name == "convert_checkpoint":
        from .convert import convert_checkpoint

        return convert_checkpoint
    if name in ("export_onnx", "export_program"):
        from . import export

        return getattr(export, name)
    raise AttributeError(name)
