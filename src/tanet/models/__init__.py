from .block_names import (
    BlockNameError,
    block_aliases,
    default_blocks,
    named_blocks,
    parse_block_name,
    resolve_block,
)
from .recognizer import VideoRecognizer
from .registry import create_model, is_model, list_models, register_model
from .resnet import (
    BasicBlock,
    Bottleneck,
    PretrainedMismatchError,
    ResNet,
    TemporalSpec,
    load_pretrained_2d,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
)

__all__ = [
    "VideoRecognizer",
    "create_model",
    "is_model",
    "list_models",
    "register_model",
    "BasicBlock",
    "Bottleneck",
    "PretrainedMismatchError",
    "ResNet",
    "TemporalSpec",
    "load_pretrained_2d",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "BlockNameError",
    "block_aliases",
    "default_blocks",
    "named_blocks",
    "parse_block_name",
    "resolve_block",
]
