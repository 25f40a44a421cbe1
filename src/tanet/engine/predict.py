"""Top-k class predictions for video files from a trained checkpoint."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from tanet.engine import distributed as dist_utils
from tanet.engine.checkpoint import load_trained_model
from tanet.engine.config import TrainConfig
from tanet.engine.evaluation import predict_views
from tanet.engine.training import data_kwargs


@dataclass
class Prediction:
    """The ``k`` most likely classes of one video, most likely first."""

    video: str
    labels: list  # class indices
    names: list  # class names
    probabilities: list  # softmax probabilities (of the view-averaged scores)

    def to_dict(self) -> dict:
        return {"video": self.video, "top": [
            {"label": l, "name": n, "probability": p}
            for l, n, p in zip(self.labels, self.names, self.probabilities)]}


def predict_videos(videos: Sequence[Union[str, Path]], checkpoint: Union[str, Path], *,
                   class_names: Optional[Sequence[str]] = None, topk: int = 5,
                   protocol: str = "efficient", average: str = "score", view_chunk: int = 8,
                   device: str = "auto", amp: str = "none") -> list[Prediction]:
    """Classify each video file (or frame folder) with the model stored in ``checkpoint``.

    Class names: ``class_names`` if given, else those stored in the checkpoint, else
    ``class_<i>``. Raises ``tanet.data.VideoDecodeError`` naming an unreadable video.
    """
    from tanet.data.dataset import build_test_dataset
    from tanet.data.lists import VideoRecord

    torch_device = dist_utils.select_device(device, dist_utils.DistInfo())
    model, state = load_trained_model(checkpoint)
    model.to(torch_device)
    names = list(class_names) if class_names is not None else state.get("class_names")
    if names is not None and len(names) != model.num_classes:
        raise ValueError(f"{len(names)} class names given for a model with "
                         f"{model.num_classes} classes")
    if names is None:
        names = [f"class_{i}" for i in range(model.num_classes)]
    config = TrainConfig.from_dict(state["config"]) if isinstance(state.get("config"), dict) \
        else TrainConfig()
    config.model.num_segments = model.num_segments
    config.data.strict = True  # an unreadable input is an error here, not a skipped sample
    records = []
    for index, video in enumerate(videos):
        path = Path(video)
        if not path.exists():
            from tanet.data.decode import VideoDecodeError

            raise VideoDecodeError(str(path), "no such file")
        frames = None
        if path.is_dir():
            frames = len([p for p in path.iterdir() if p.is_file()])
        records.append(VideoRecord(str(path), 0, frames, index + 1))
    kwargs = data_kwargs(config)
    kwargs["frames"] = None
    dataset = build_test_dataset(records, None, protocol=protocol, size=config.data.size,
                                 scale_size=config.data.scale_size, **kwargs)
    k = min(topk, model.num_classes)
    predictions = []
    for index, record in enumerate(records):
        clip, _ = dataset.load(index)
        scores = predict_views(model, clip.unsqueeze(0), average=average, view_chunk=view_chunk,
                               device=torch_device, amp=amp)[0]
        probabilities = scores if average == "prob" else scores.softmax(dim=0)
        top = probabilities.topk(k)
        labels = top.indices.tolist()
        predictions.append(Prediction(record.path, labels, [names[i] for i in labels],
                                      [float(p) for p in top.values]))
    return predictions


def format_predictions(predictions: Sequence[Prediction]) -> str:
    lines = []
    for prediction in predictions:
        lines.append(prediction.video)
        for rank, (name, prob) in enumerate(zip(prediction.names, prediction.probabilities), 1):
            lines.append(f"  {rank}. {name:<30} {100 * prob:6.2f}%")
    return "\n".join(lines)


__all__ = ["Prediction", "predict_videos", "format_predictions"]
