"""tanet: TAM / TANet (ICCV 2021) and its baselines (TSN, TSM, I3D 3x1x1) for video action recognition.

``import tanet`` loads the models and the weight loaders only; the training engine, the analysis
tools and the command line load when used (:func:`predict` loads the engine on its first call).
"""
__version__ = "0.1.0"

import os as _os

from tanet.factory import create_model, load_model, load_pretrained_2d
from tanet.interop.loading import load_weights
from tanet.models import VideoRecognizer, build_model, list_models
from tanet.modules import TAM, TAMCapture, adaptive_temporal_conv, adaptive_temporal_conv_reference

__all__ = [
    "__version__",
    "predict",
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


def predict(model_or_checkpoint, videos, **options):
    """Top-k classes of videos in one line: ``tanet.predict(model_or_checkpoint, "clip.mp4")``.

    ``model_or_checkpoint``: a checkpoint file (any layout tanet reads), or a model in memory -- one
    that :func:`load_model` / :func:`create_model` loaded carries its file's record (``model.record``),
    so it is neither read again nor changed. ``videos``: a video file, a folder of videos or frames, a
    list file, a glob, or a list of them. Size, frames, sampling, test protocol and class names come
    from the checkpoint's record; ``options`` are those of :func:`tanet.engine.predict.predict_videos`
    (``topk``, ``protocol``, ``class_names``, ``timeline``, ...).

    Returns one :class:`~tanet.engine.predict.Prediction` per video: ``names`` / ``labels`` (the top-k
    classes, most likely first) and ``probabilities`` (their scores); ``status`` says whether it could
    be read.
    """
    from tanet.engine.predict import predict_videos  # the engine loads here, not with `import tanet`

    if isinstance(videos, (str, _os.PathLike)):
        videos = [videos]
    return predict_videos(videos, model_or_checkpoint, **options)
