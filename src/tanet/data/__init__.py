"""The input side: decoding, frame sampling, clip transforms, list files and datasets.

``read_frames(path, indices)`` is the building block: exactly those frames, uint8
(N, H, W, 3), from a video file (PyAV or torchcodec) or a folder of JPEGs;
``encode_video(path, frames, fps)`` writes frames the other way.
"""
from .dataset import TEST_PROTOCOLS, TestProtocol, VideoDataset, build_test_dataset, build_train_dataset, resolve_flip
from .decode import (
    FrameFolderBackend,
    PyAVBackend,
    TorchCodecBackend,
    VideoBackend,
    VideoDecodeError,
    VideoReader,
    available_backends,
    count_frames,
    get_backend,
    open_video,
    read_frames,
    torchcodec_available,
)
from .encode import encode_video
from .labels import FlipLabels, flip_label_map, flip_labels
from .loader import Batch, EpochAwareDataset, EpochTaggedSampler, build_loader, collate_videos, worker_init_fn
from .lists import ListFileError, VideoRecord, read_class_names, read_list, write_class_names, write_list
from .sampling import SAMPLING_RULES, DenseSampler, SegmentSampler, fit_short
from .transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CropBox,
    TestTransform,
    default_scale_size,
    TrainTransform,
    hflip,
    multi_scale_crop_params,
    normalize,
    resized_crop,
    eval_crop_params,
    test_transform,
    train_transform,
)

__all__ = [
    "read_frames", "count_frames", "open_video", "get_backend", "available_backends",
    "torchcodec_available", "encode_video", "VideoDecodeError", "VideoReader", "VideoBackend",
    "PyAVBackend", "TorchCodecBackend", "FrameFolderBackend",
    "SegmentSampler", "DenseSampler", "fit_short", "SAMPLING_RULES",
    "TrainTransform", "TestTransform", "train_transform", "test_transform", "CropBox",
    "resized_crop", "hflip", "normalize", "multi_scale_crop_params", "eval_crop_params", "default_scale_size",
    "flip_label_map", "flip_labels", "FlipLabels", "resolve_flip", "IMAGENET_MEAN", "IMAGENET_STD",
    "VideoRecord", "ListFileError", "read_list", "write_list", "read_class_names",
    "write_class_names",
    "VideoDataset", "Batch", "collate_videos", "worker_init_fn", "build_loader",
    "EpochTaggedSampler", "EpochAwareDataset",
    "build_train_dataset", "build_test_dataset", "TEST_PROTOCOLS", "TestProtocol",
]
