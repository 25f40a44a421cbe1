"""Video models: the registry of names, the ResNet family with its temporal modules, the recognizer,
and the names of its blocks.

``build_model(name, ...)`` builds an architecture with fresh weights; ``tanet.create_model`` (one
layer up) also loads weights.
"""
from ._builder import DEFAULT_NUM_CLASSES, DEFAULT_NUM_SEGMENTS, build_model
from ._registry import UnknownModelError, is_model, list_models, model_entrypoint, register_model
from .block_names import BlockNameError, block_aliases, default_blocks, named_blocks, parse_block_name, resolve_block
from .recognizer import VideoRecognizer
from .resnet import BasicBlock, Bottleneck, ResNet, TemporalSpec, resnet18, resnet26, resnet34, resnet50, resnet101

__all__ = [
    "DEFAULT_NUM_CLASSES",
    "DEFAULT_NUM_SEGMENTS",
    "build_model",
    "UnknownModelError",
    "is_model",
    "list_models",
    "model_entrypoint",
    "register_model",
    "BlockNameError",
    "block_aliases",
    "default_blocks",
    "named_blocks",
    "parse_block_name",
    "resolve_block",
    "VideoRecognizer",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "TemporalSpec",
    "resnet18",
    "resnet26",
    "resnet34",
    "resnet50",
    "resnet101",
]
