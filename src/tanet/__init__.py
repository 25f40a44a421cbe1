"""tanet: TAM / TANet (ICCV 2021) and its baselines (TSN, TSM, I3D 3x1x1) for video action recognition."""
__version__ = "0.1.0"

from tanet.models import VideoRecognizer, create_model, list_models, load_pretrained_2d
from tanet.interop import load_checkpoint
from tanet.modules import TAM, TAMCapture, adaptive_temporal_conv, adaptive_temporal_conv_reference

__all__ = [
    "__version__",
    "TAM",
    "TAMCapture",
    "VideoRecognizer",
    "adaptive_temporal_conv",
    "adaptive_temporal_conv_reference",
    "create_model",
    "list_models",
    "load_checkpoint",
    "load_pretrained_2d",
]
