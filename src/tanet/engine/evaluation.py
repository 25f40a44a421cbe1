"""Evaluation: multi-view inference, top-k / mean-class accuracy, confusion matrix.

Test protocols (built by ``tanet.data.build_test_dataset``): ``efficient`` = 1 clip x
centre crop, ``accurate`` = 2 clips x 3 crops at 256 (Something-Something), ``dense`` =
10 clips x 3 crops (Kinetics). A multi-view sample arrives as ``(V, C, T, H, W)``; the
V views are run through the model in chunks of at most ``view_chunk`` clips and their
outputs averaged either as raw scores (``average="score"``, the official TAM code) or as
softmax probabilities (``average="prob"``, MMAction2).
"""
from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import torch
from torch import nn

from tanet.engine.distributed import all_reduce_sum


def autocast_context(device: torch.device, amp: str):
    """``torch.autocast`` for ``amp`` in {"none", "bf16", "fp16"} (fp16 only on GPU)."""
    if amp == "none":
        return contextlib.nullcontext()
    if amp == "fp16" and device.type == "cpu":
        raise ValueError("fp16 autocast needs a GPU; use amp='bf16' on CPU")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


@torch.no_grad()
def predict_views(model: nn.Module, clips: torch.Tensor, *, average: str = "score",
                  view_chunk: int = 8, device: Optional[torch.device] = None,
                  amp: str = "none") -> torch.Tensor:
    """Class scores ``(N, K)`` for a batch ``(N, C, T, H, W)`` or ``(N, V, C, T, H, W)``.

    With ``average="prob"`` the result holds averaged probabilities, otherwise averaged
    logits. At most ``view_chunk`` clips go through the model at once.
    """
    if average not in ("score", "prob"):
        raise ValueError(f"average must be 'score' or 'prob', got {average!r}")
    device = device or next(model.parameters()).device
    if clips.dim() == 5:
        clips = clips.unsqueeze(1)
    if clips.dim() != 6:
        raise ValueError(f"expected clips of shape (N, C, T, H, W) or (N, V, C, T, H, W), "
                         f"got {tuple(clips.shape)}")
    batch, views = clips.shape[:2]
    flat = clips.reshape(batch * views, *clips.shape[2:])
    outputs = []
    for start in range(0, flat.shape[0], max(1, view_chunk)):
        chunk = flat[start:start + view_chunk].to(device, non_blocking=True)
        with autocast_context(device, amp):
            logits = model(chunk)
        logits = logits.float()
        outputs.append(logits.softmax(dim=1) if average == "prob" else logits)
    scores = torch.cat(outputs).reshape(batch, views, -1)
    return scores.mean(dim=1)


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, k: int) -> int:
    """How many rows have their label among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices
    return int((top == labels.unsqueeze(1)).any(dim=1).sum().item())


def metrics_from_counts(confusion: torch.Tensor, top5_hits: float) -> dict:
    """top-1, top-5 and mean class accuracy (percent) from a confusion matrix.

    ``confusion[i, j]`` counts samples of true class ``i`` predicted as ``j``. Classes
    without any sample are left out of the mean class accuracy.
    """
    confusion = confusion.double()
    total = confusion.sum().item()
    if total == 0:
        return {"top1": 0.0, "top5": 0.0, "mean_class_acc": 0.0, "num_samples": 0}
    per_class_total = confusion.sum(dim=1)
    present = per_class_total > 0
    per_class_acc = confusion.diagonal()[present] / per_class_total[present]
    return {
        "top1": 100.0 * confusion.diagonal().sum().item() / total,
        "top5": 100.0 * top5_hits / total,
        "mean_class_acc": 100.0 * per_class_acc.mean().item(),
        "num_samples": int(total),
    }


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, num_classes: int, *,
             average: str = "score", view_chunk: int = 8,
             device: Optional[torch.device] = None, amp: str = "none",
             criterion: Optional[nn.Module] = None,
             progress: bool = False, desc: str = "eval", return_scores: bool = False) -> dict:
    """Run ``model`` over ``loader`` and return accuracy metrics in percent.

    ``loader`` yields :class:`tanet.data.Batch` es (``clips, labels, num_skipped``). In a distributed run each process evaluates its own
    shard and the counts are summed over processes, so every rank returns the metrics of
    the whole set. Returns ``top1``, ``top5``, ``mean_class_acc``, ``num_samples``,
    ``num_skipped``, ``num_nonfinite`` (videos whose scores hold NaN/inf: their argmax means nothing,
    so a caller should not trust the accuracy when it is not 0), ``confusion`` (a ``(K, K)`` int64 tensor), ``loss`` (when
    ``criterion`` is given; mean over samples), ``clips_per_s`` and, with
    ``return_scores``, this process's ``scores`` and ``labels``.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    top5_hits = 0.0
    loss_sum = 0.0
    skipped = nonfinite = 0
    all_scores, all_labels = [], []
    started = time.perf_counter()
    bar = _progress(loader, progress, desc)
    try:
        for batch in bar:
            clips, labels = batch.clips, batch.labels
            skipped += int(batch.num_skipped)
            if labels.numel() == 0:
                continue
            labels = labels.long()
            scores = predict_views(model, clips, average=average, view_chunk=view_chunk,
                                   device=device, amp=amp).cpu()
            nonfinite += int((~torch.isfinite(scores)).any(dim=1).sum().item())
            if criterion is not None and average == "score":
                loss_sum += float(criterion(scores, labels).item()) * labels.shape[0]
            predicted = scores.argmax(dim=1)
            confusion.index_put_((labels, predicted), torch.ones(labels.shape[0],
                                 dtype=torch.float64), accumulate=True)
            top5_hits += topk_correct(scores, labels, 5)
            if return_scores:
                all_scores.append(scores)
                all_labels.append(labels)
            if hasattr(bar, "set_postfix"):
                done = confusion.sum().item()
                bar.set_postfix(top1=f"{100 * confusion.diagonal().sum().item() / done:.1f}")
    finally:
        model.train(was_training)
    elapsed = time.perf_counter() - started
    # Sum counts over processes (float64 keeps exact integers far past any data set size).
    counts = torch.tensor([top5_hits, loss_sum, float(skipped), float(nonfinite)], dtype=torch.float64)
    reduce_device = _reduce_device(device)
    confusion = all_reduce_sum(confusion.to(reduce_device)).cpu()
    counts = all_reduce_sum(counts.to(reduce_device)).cpu()
    metrics = metrics_from_counts(confusion, counts[0].item())
    metrics["num_skipped"] = int(counts[2].item())
    metrics["num_nonfinite"] = int(counts[3].item())
    metrics["confusion"] = confusion.round().long()
    if criterion is not None and average == "score" and metrics["num_samples"]:
        metrics["loss"] = counts[1].item() / metrics["num_samples"]
    metrics["clips_per_s"] = metrics["num_samples"] / elapsed if elapsed > 0 else math.nan
    if return_scores:
        metrics["scores"] = torch.cat(all_scores) if all_scores else torch.zeros(0, num_classes)
        metrics["labels"] = torch.cat(all_labels) if all_labels else torch.zeros(0, dtype=torch.long)
    return metrics


def _reduce_device(device: torch.device) -> torch.device:
    # NCCL only reduces CUDA tensors; gloo takes CPU tensors.
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return device
    return torch.device("cpu")


def _progress(iterable: Iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True)


def per_class_accuracy(confusion: torch.Tensor, class_names: Optional[Sequence[str]] = None) -> list[dict]:
    """One row per class: ``name``, ``videos`` (of that true class), ``correct``, ``accuracy`` (percent;
    None for a class without videos)."""
    names = list(class_names) if class_names is not None else [f"class_{i}" for i in range(confusion.shape[0])]
    rows = []
    for index, name in enumerate(names):
        videos, correct = int(confusion[index].sum()), int(confusion[index, index])
        rows.append({"name": name, "videos": videos, "correct": correct,
                     "accuracy": 100.0 * correct / videos if videos else None})
    return rows


def format_per_class(rows: Sequence[dict], limit: int = 30) -> str:
    """The per-class accuracies as a table; past ``limit`` classes, the ``limit`` least accurate."""
    shown = list(rows)
    title = "per-class accuracy"
    if len(shown) > limit:
        shown = sorted((r for r in rows if r["accuracy"] is not None), key=lambda r: r["accuracy"])[:limit]
        title += f" (the {limit} least accurate of {len(rows)} classes; all in metrics.json)"
    width = max([len(r["name"]) for r in shown] + [5])
    lines = [title, f"  {'class':<{width}}  {'videos':>6}  {'correct':>7}  {'acc (%)':>7}"]
    for r in shown:
        accuracy = "-" if r["accuracy"] is None else f"{r['accuracy']:.1f}"
        lines.append(f"  {r['name']:<{width}}  {r['videos']:>6}  {r['correct']:>7}  {accuracy:>7}")
    return "\n".join(lines)


def format_metrics_table(metrics: dict, title: str = "") -> str:
    """A small fixed-width table of the headline metrics (top-5 only where it is defined: more than 5
    classes, else ``metrics["top5"]`` is None and the row is left out)."""
    rows = [("top-1 (%)", f"{metrics['top1']:.2f}")]
    if metrics.get("top5") is not None:
        rows.append(("top-5 (%)", f"{metrics['top5']:.2f}"))
    rows += [("mean class acc (%)", f"{metrics['mean_class_acc']:.2f}"),
             ("videos", str(metrics.get("num_samples", "")))]
    if metrics.get("num_skipped"):
        rows.append(("skipped (unreadable)", str(metrics["num_skipped"])))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    line = "+" + "-" * (width + 2) + "+" + "-" * (value_width + 2) + "+"
    out = [title] if title else []
    out.append(line)
    out += [f"| {name:<{width}} | {value:>{value_width}} |" for name, value in rows]
    out.append(line)
    return "\n".join(out)


def confusion_figure(confusion: torch.Tensor, class_names: Optional[Sequence[str]] = None, normalize: bool = True):
    """A matplotlib figure of a confusion matrix, coloured row-normalised (``normalize``) with the video
    count written in each cell; class labels and counts are drawn up to 40 classes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    matrix = confusion.double()
    if normalize:
        matrix = matrix / matrix.sum(dim=1, keepdim=True).clamp(min=1)
    k = matrix.shape[0]
    size = min(4 + 0.25 * k, 20)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix.numpy(), cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion matrix: videos per cell" + (", colour row-normalised" if normalize else ""))
    if k <= 40:
        counts = confusion.long()
        for row in range(k):
            for column in range(k):
                dark = float(matrix[row, column]) > 0.5 * float(matrix.max() or 1)
                ax.text(column, row, str(int(counts[row, column])), ha="center", va="center",
                        fontsize=max(5, 10 - k // 5), color="white" if dark else "black")
    if class_names is not None and k <= 40:
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(class_names, rotation=90, fontsize=7)
        ax.set_yticklabels(class_names, fontsize=7)
    fig.tight_layout()
    return fig


def save_confusion_png(confusion: torch.Tensor, path: Union[str, Path],
                       class_names: Optional[Sequence[str]] = None, normalize: bool = True) -> Path:
    """:func:`confusion_figure` as a PNG file."""
    import matplotlib.pyplot as plt

    fig = confusion_figure(confusion, class_names, normalize)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = [
    "evaluate", "predict_views", "topk_correct", "metrics_from_counts", "autocast_context",
    "format_metrics_table", "per_class_accuracy", "format_per_class", "confusion_figure", "save_confusion_png",
]
