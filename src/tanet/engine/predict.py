"""Top-k class predictions for video files from a trained checkpoint (``tanet predict``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from tanet.data.decode import VideoDecodeError
from tanet.data.lists import VideoRecord
from tanet.engine import distributed as dist_utils
from tanet.engine.builders import build_eval_dataset, load_for_eval
from tanet.engine.evaluation import predict_views
from tanet.errors import TanetError

__all__ = ["Prediction", "predict_videos", "format_predictions"]


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
                   device: str = "auto", amp: str = "none", inference: str = "fused") -> list[Prediction]:
    """Classify each video file (or frame folder) with the model stored in ``checkpoint``.

    Class names: ``class_names`` if given, else those stored in the checkpoint, else
    ``class_<i>``. Raises :class:`tanet.data.VideoDecodeError` naming an unreadable video.
    ``inference``: the model's inference path (see :func:`tanet.engine.builders.load_for_eval`).
    """
    torch_device = dist_utils.select_device(device, dist_utils.DistInfo())
    setup = load_for_eval(checkpoint, device=torch_device, inference=inference)
    model = setup.model
    names = list(class_names) if class_names is not None else setup.class_names
    if names is not None and len(names) != model.num_classes:
        raise TanetError(f"{len(names)} class names given for a model with {model.num_classes} classes")
    if names is None:
        names = [f"class_{i}" for i in range(model.num_classes)]
    records = []
    for index, video in enumerate(videos):
        path = Path(video)
        if not path.exists():
            raise VideoDecodeError(str(path), "no such file")
        frames = len([p for p in path.iterdir() if p.is_file()]) if path.is_dir() else None
        records.append(VideoRecord(str(path), 0, frames, index + 1))
    # an unreadable input is an error here, not a skipped sample
    dataset = build_eval_dataset(setup, records, protocol=protocol, strict=True)
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
