"""What ``tanet test`` writes besides ``metrics.json``: the default result folder, the confusion
matrix as a CSV named by class, and the per-video prediction dump (MMAction2's ``--dump``)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch.utils.data import DataLoader, Dataset

from tanet.data.loader import Batch, collate_videos, worker_init_fn
from tanet.engine.distributed import ShardSampler
from tanet.utils.io import atomic_write_text

__all__ = ["default_out_dir", "confusion_csv", "IndexedDataset", "indexed_eval_loader", "write_dump", "DUMP_SUFFIXES",
           "RESULT_FILES"]

DUMP_SUFFIXES = (".json", ".csv")
RESULT_FILES = ("metrics.json", "confusion.png", "confusion.csv")  # what `tanet test` writes into its folder


def default_out_dir(val_list: Union[str, Path], protocol: str, *, checkpoint: Optional[Union[str, Path]] = None,
                    weights: Optional[str] = None) -> Path:
    """``<checkpoint folder>/test-<list name>-<protocol>`` (published weights: ``runs/test-<weights>-
    <list name>-<protocol>``), or ``...-2``, ``-3``... when an earlier result is there: a new test
    never replaces an earlier one unless ``--out`` names it."""
    if checkpoint is not None:
        base = Path(checkpoint).parent / f"test-{Path(val_list).stem}-{protocol}"
    else:
        base = Path("runs") / f"test-{weights}-{Path(val_list).stem}-{protocol}"
    candidate, number = base, 1
    while candidate.exists() and any(candidate.iterdir()):
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def _names(class_names: Optional[Sequence[str]], num_classes: int) -> list[str]:
    return list(class_names) if class_names is not None else [f"class_{i}" for i in range(num_classes)]


def confusion_csv(confusion: torch.Tensor, class_names: Optional[Sequence[str]] = None) -> str:
    """Rows: true class, columns: predicted class; the header row and first column are class names."""
    names = _names(class_names, confusion.shape[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, confusion.tolist()):
        writer.writerow([name, *row])
    return out.getvalue()


class IndexedDataset(Dataset):
    """``(clip, label, index)`` samples of a dataset (None stays None: an unreadable video)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        sample = self.dataset[index]
        return None if sample is None else (*sample, index)


class IndexedBatch(Batch):
    """A :class:`~tanet.data.Batch` that also knows the dataset index of each clip (``indices``)."""


def collate_indexed(samples: Sequence) -> IndexedBatch:
    batch = IndexedBatch(*collate_videos([None if item is None else item[:2] for item in samples]))
    batch.indices = [item[2] for item in samples if item is not None]
    return batch


class _IndexRecorder:
    """Iterates a loader of :class:`IndexedBatch` es and keeps their indices in order."""

    def __init__(self, loader: DataLoader):
        self.loader, self.indices = loader, []

    def __iter__(self):
        for batch in self.loader:
            if batch.labels.numel():  # evaluation skips empty batches; so must the indices
                self.indices.extend(batch.indices)
            yield batch

    def __len__(self) -> int:
        return len(self.loader)


def indexed_eval_loader(dataset: Dataset, batch_size: int, *, num_workers: int = 0, rank: int = 0,
                        world_size: int = 1, pin_memory: bool = False) -> _IndexRecorder:
    """An evaluation loader over this process's shard that records which videos its scores belong to
    (``.indices``, in the order of ``evaluate(..., return_scores=True)``'s rows)."""
    loader = DataLoader(IndexedDataset(dataset), batch_size=batch_size,
                        sampler=ShardSampler(len(dataset), rank, world_size), num_workers=num_workers,
                        collate_fn=collate_indexed, worker_init_fn=worker_init_fn if num_workers > 0 else None,
                        pin_memory=pin_memory)
    return _IndexRecorder(loader)


def write_dump(path: Union[str, Path], videos: Sequence[str], labels: Sequence[int], indices: Sequence[int],
               scores: torch.Tensor, class_names: Optional[Sequence[str]], num_classes: int, info: dict) -> Path:
    """Per-video predictions in list order, every video of the list (unreadable ones marked).

    JSON: ``info`` (checkpoint, protocol, averaging...), ``class_names`` and one entry per video with
    its ``label`` and ``predicted`` class (indices, and their names as ``label_name`` /
    ``predicted_name``) and the full ``scores`` vector (view-averaged logits, or probabilities with
    ``average="prob"``), as MMAction2's ``--dump`` keeps them for score fusion.
    CSV: ``video, label, label_name, predicted, predicted_name, status`` and one score column per class
    (named by class).
    """
    path = Path(path)
    names = _names(class_names, num_classes)
    row_of = {index: row for row, index in enumerate(indices)}
    entries = []
    for index, (video, label) in enumerate(zip(videos, labels)):
        row = row_of.get(index)
        label_name = names[label] if 0 <= label < len(names) else None
        if row is None:
            entries.append({"video": video, "label": label, "label_name": label_name, "predicted": None,
                            "predicted_name": None, "status": "unreadable", "scores": None})
            continue
        vector = scores[row]
        predicted = int(vector.argmax())
        entries.append({"video": video, "label": label, "label_name": label_name, "predicted": predicted,
                        "predicted_name": names[predicted], "status": "ok",
                        "scores": [round(float(value), 6) for value in vector]})
    if path.suffix == ".csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["video", "label", "label_name", "predicted", "predicted_name", "status", *names])
        for entry in entries:
            writer.writerow([entry["video"], entry["label"], entry["label_name"] or "",
                             "" if entry["predicted"] is None else entry["predicted"], entry["predicted_name"] or "",
                             entry["status"], *(entry["scores"] or [""] * len(names))])
        text = out.getvalue()
    else:
        text = json.dumps({**info, "class_names": names, "videos": entries}, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
