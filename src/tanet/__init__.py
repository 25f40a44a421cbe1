"""tanet: TAM / TANet (ICCV 2021) and its baselines (TSN, TSM, I3D 3x1x1) for video action recognition.

``import tanet`` loads the models and the weight loaders only; the training engine, the analysis
tools and the command line load when used.
"""
__version__ = "0.1.0"

from tanet.factory import create_model, load_model, load_pretrained_2d
from tanet.interop.loading import load_weights
from tanet.models import VideoRecognizer, build_model, list_models
from tanet.modules import TAM, TAMCapture, adaptive_temporal_conv, adaptive_temporal_conv_reference

__all__ = [
    "__version__",
    "TAM",
    "TAMCapture",
    "VideoRecognizer",
    "adaptive_temporal_conv",
    "adaptive_temporal_conv_reference",
    "build_model",
    "create_model",
    "list_models",
    "load_model",
    "load_pretrained_2d",
    "load_weights",
]
