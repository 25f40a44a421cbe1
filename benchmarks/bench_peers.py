"""tanet's TANet-R50 side by side with MMAction2 1.2.0's own TANet-R50: same weights, one process.

MMAction2's model is built from its own config (``configs/_base_/models/tanet_r50.py``: the ``TANet``
backbone and the ``TSMHead``); its weights get non-trivial BatchNorm statistics and a classifier of a
useful scale, and are saved in MMAction2's layout. tanet's ``tanet_r50`` loads that file through
tanet's own loader (``tanet.load_weights``) and must give the same logits (eager, fused and compiled
inference paths alike) before anything is timed. Then, interleaved, several rounds each:

* eval latency, batch 1 and batch 4, 8x224x224: MMAction2 eager vs tanet eager / fused / compiled
  (``tanet.models.prepare_for_inference``: BatchNorm folded + channels_last + in-place residual sums;
  + torch.compile with frozen weights), and tsn_r50 on the fused path (no TAM: the convolutions' bound);
* one training step (forward + backward + SGD step), batch 2, 8x224x224: MMAction2 vs tanet in the default
  (NCHW) layout and with ``runtime.channels_last=true`` (``runtime.channels_last=auto``, the default of
  ``tanet train``, picks the one this CPU runs faster: printed at the start), and tsn_r50 (the same
  network without TAM, as the bound any TANet training step can reach in the default layout);
* peak training memory (RSS growth of one training step), the same three, each in fresh processes,
  median of 3.

Run it in the MMAction2 environment (``bash benchmarks/setup_mmaction2.sh`` creates it), with tanet
taken from this checkout:

    PYTHONPATH=src .venv-mmaction2/bin/python benchmarks/bench_peers.py [--quick] [--only eval|train|memory]

Targets (issue 15): tanet >= 1.5x faster than MMAction2 in eval (with the fast path), >= 1.15x in a
training step, training memory <= MMAction2's.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import (  # noqa: E402
    add_common_arguments,
    fmt_range,
    interleaved_rounds,
    machine_load,
    ratios,
    rss_bytes,
    sgd_training_step,
)

NUM_CLASSES, NUM_SEGMENTS, SIZE = 400, 8, 224


# --------------------------------------------------------------------------- the two models


class MMActionTANet(nn.Module):
    """MMAction2's backbone + head on clips (N, C, T, H, W), as its ``Recognizer2D`` runs them: frames
    of one clip adjacent in a (N*T, C, H, W) batch, the head averaging the T frames' scores."""

    def __init__(self) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mmcv-lite: "no compiled ops" (none are used here)
            import mmaction
            from mmaction.registry import MODELS
            from mmaction.utils import register_all_modules
            from mmengine.config import Config
            from mmengine.logging import MMLogger

            register_all_modules()
        MMLogger.get_instance("mmengine").setLevel(logging.ERROR)  # no per-parameter init report
        config = Config.fromfile(Path(mmaction.__file__).parent / ".mim/configs/_base_/models/tanet_r50.py")
        self.backbone = MODELS.build(dict(config.model.backbone, pretrained=None, num_segments=NUM_SEGMENTS))
        self.cls_head = MODELS.build(dict(config.model.cls_head, num_classes=NUM_CLASSES, num_segments=NUM_SEGMENTS))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        num_clips, channels, num_frames, height, width = clips.shape
        frames = clips.transpose(1, 2).reshape(num_clips * num_frames, channels, height, width)
        return self.cls_head(self.backbone(frames), num_segs=num_frames)


def _trained_looking(model: nn.Module, seed: int = 0) -> None:
    """BatchNorm statistics of real activations (a few cumulative train-mode passes) with perturbed
    affine parameters, and a classifier whose logits are O(1): folding and loading must get all of them
    right for the logits to match."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(2, 3, NUM_SEGMENTS, 112, 112, generator=generator))
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1
    head = model.cls_head.fc_cls
    with torch.no_grad():
        head.weight.copy_(0.02 * torch.randn(head.weight.shape, generator=generator))  # logits up to ~5
    model.eval()


def build_pair(folder: Path) -> tuple[nn.Module, nn.Module]:
    """(MMAction2's TANet-R50, tanet's tanet_r50 with the same weights through ``tanet.load_weights``)."""
    import tanet

    torch.manual_seed(0)
    peer = MMActionTANet()
    _trained_looking(peer)
    path = folder / "mmaction2_tanet_r50.pth"
    torch.save({"state_dict": peer.state_dict(), "meta": {}}, path)
    ours = tanet.create_model("tanet_r50", num_classes=NUM_CLASSES, num_segments=NUM_SEGMENTS)
    report = tanet.load_weights(ours, path)
    if report.source_format != "mmaction2" or report.left_at_init or report.classifier_reset:
        raise SystemExit(f"tanet.load_weights did not take the MMAction2 file as a whole: {report}")
    return peer.eval(), ours.eval()


# --------------------------------------------------------------------------- eval


def tsn_like(ours: nn.Module) -> nn.Module:
    """tsn_r50 with tanet_r50's 2D weights: the same network without TAM, a bound on what any TANet
    inference path can reach (its convolutions)."""
    import tanet

    tsn = tanet.create_model("tsn_r50", num_classes=NUM_CLASSES, num_segments=NUM_SEGMENTS)
    tsn.load_state_dict({k: v for k, v in ours.state_dict().items() if ".tam." not in k})
    return tsn.eval()


def check_logits(peer: nn.Module, candidates: dict[str, nn.Module], tolerance: float = 1e-4) -> dict[str, float]:
    torch.manual_seed(1)
    clips = torch.randn(2, 3, NUM_SEGMENTS, SIZE, SIZE)
    with torch.inference_mode():
        reference = peer(clips)
        differences = {name: float((model(clips) - reference).abs().max()) for name, model in candidates.items()}
    scale = float(reference.abs().max())
    for name, difference in differences.items():
        status = "ok" if difference <= tolerance else "MISMATCH"
        print(f"    {name:<24} max |logit difference| {difference:.1e} (logits up to {scale:.2f})  {status}")
    if any(difference > tolerance for difference in differences.values()):
        raise SystemExit("logits differ: the timings below would compare different computations")
    return differences


def bench_eval(peer: nn.Module, ours: dict[str, nn.Module], batch: int, rounds: int, calls: int) -> dict:
    clips = torch.randn(batch, 3, NUM_SEGMENTS, SIZE, SIZE)
    candidates = {"mmaction2": lambda: peer(clips), **{name: (lambda m=m: m(clips)) for name, m in ours.items()}}
    with torch.inference_mode():
        medians = interleaved_rounds(candidates, rounds, calls)
    return {
        "speedup": {name: ratios(medians["mmaction2"], medians[name]) for name in ours},
        "ms": {name: statistics.median(values) * 1e3 for name, values in medians.items()},
    }


# --------------------------------------------------------------------------- training


def tanet_for_training(channels_last: bool, like: nn.Module | None = None) -> nn.Module:
    """tanet_r50 in training mode, as ``tanet train`` builds it (``runtime.channels_last`` stores the
    kernels channels_last, so that activations follow)."""
    import tanet
    from tanet.models.inference import to_channels_last

    model = tanet.create_model("tanet_r50", num_classes=NUM_CLASSES, num_segments=NUM_SEGMENTS)
    if like is not None:
        model.load_state_dict(like.state_dict())
    if channels_last:
        to_channels_last(model)
    return model.train()


def bench_train(peer: nn.Module, ours: nn.Module, rounds: int, calls: int) -> dict:
    clips = torch.randn(2, 3, NUM_SEGMENTS, SIZE, SIZE)
    labels = torch.tensor([3, 7])
    peer.train()
    steps = {
        "mmaction2": sgd_training_step(peer, clips, labels),
        "tanet": sgd_training_step(tanet_for_training(False, ours), clips, labels),
        "tanet channels_last": sgd_training_step(tanet_for_training(True, ours), clips, labels),
        "tsn_r50 (no TAM)": sgd_training_step(tsn_like(ours).train(), clips, labels),
    }
    medians = interleaved_rounds(steps, rounds, calls)
    peer.eval()
    return {
        "speedup": {name: ratios(medians["mmaction2"], medians[name]) for name in steps if name != "mmaction2"},
        "ms": {name: statistics.median(values) * 1e3 for name, values in medians.items()},
    }


# --------------------------------------------------------------------------- memory (child processes)


def memory_probe(which: str) -> None:
    """In a fresh process: peak RSS growth of one training step (batch 2, 8x224x224)."""
    torch.manual_seed(0)
    model = MMActionTANet().train() if which == "mmaction2" else tanet_for_training(which == "tanet-cl")
    clips = torch.randn(2, 3, NUM_SEGMENTS, SIZE, SIZE)
    labels = torch.tensor([3, 7])
    step = sgd_training_step(model, clips, labels)
    before = rss_bytes()
    step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    print(json.dumps({"model": which, "growth_bytes": peak - before}))


def bench_memory(repeats: int = 3) -> dict:
    """Median over ``repeats`` fresh processes per model; a fixed glibc mmap threshold sends every large
    buffer to mmap, so that a freed activation leaves RSS at once (as in bench_core.py)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    samples: dict[str, list[int]] = {"mmaction2": [], "tanet": [], "tanet-cl": []}
    for _ in range(repeats):
        for which in samples:  # interleaved
            result = subprocess.run(
                [sys.executable, __file__, "--memory-probe", which], capture_output=True, text=True, check=True, env=env
            )
            samples[which].append(json.loads(result.stdout.strip().splitlines()[-1])["growth_bytes"])
    growth = {name: statistics.median(values) for name, values in samples.items()}
    return {"over_mmaction2": {name: growth[name] / growth["mmaction2"] for name in ("tanet", "tanet-cl")},
            "MiB": {name: value / 2**20 for name, value in growth.items()},
            "samples_MiB": {name: [v / 2**20 for v in values] for name, values in samples.items()}}


def saved_for_backward(model: nn.Module) -> dict:
    """Bytes the autograd graph keeps for the backward after one training forward (batch 2, 8x224x224), per
    residual block and in all, each storage counted once (where it was first saved): deterministic, unlike
    peak RSS, and it says which block keeps what."""
    torch.manual_seed(0)
    clips = torch.randn(2, 3, NUM_SEGMENTS, SIZE, SIZE)
    where = ["stem"]
    blocks = [module for module in model.modules() if type(module).__name__.endswith("Bottleneck")]
    hooks = [block.register_forward_pre_hook(lambda module, args, index=index: where.__setitem__(0, f"block {index}"))
             for index, block in enumerate(blocks)]
    storages: dict[int, tuple[str, int]] = {}
    counts: dict[str, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        counts[where[0]] = counts.get(where[0], 0) + 1
        storages.setdefault(tensor.untyped_storage().data_ptr(), (where[0], tensor.untyped_storage().nbytes()))
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(clips)
    for hook in hooks:
        hook.remove()
    per_block: dict[str, int] = {}
    for label, nbytes in storages.values():
        per_block[label] = per_block.get(label, 0) + nbytes
    return {"total_MiB": sum(per_block.values()) / 2**20, "saved_tensors": sum(counts.values()),
            "MiB_per_block": {label: nbytes / 2**20 for label, nbytes in per_block.items()}, "count_per_block": counts}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--only", choices=["eval", "train", "memory"], help="run one part")
    parser.add_argument("--no-compile", action="store_true", help="leave out the compiled inference path")
    parser.add_argument("--memory-probe", choices=["mmaction2", "tanet", "tanet-cl"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return

    import mmaction

    from tanet.models.inference import prepare_for_inference

    if args.threads:
        torch.set_num_threads(args.threads)
    from tanet.engine.resolve import training_layout

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mmaction2 {mmaction.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {machine_load()}")
    auto_layout, why = training_layout("cpu", "none")
    print(f"runtime.channels_last=auto (tanet train's default) picks {'channels_last' if auto_layout else 'the default layout'} "
          f"here: {why}")
    rounds = 3 if args.quick else 5
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        peer, ours = build_pair(Path(folder))
    if args.only in (None, "eval"):
        fast = {"tanet eager": ours, "tanet fused": prepare_for_inference(ours, "fused")}
        floor = {"tsn_r50 fused (no TAM)": prepare_for_inference(tsn_like(ours), "fused")}
        if not args.no_compile:
            started = time.perf_counter()
            fast["tanet compiled"] = compiled = prepare_for_inference(ours, "compiled")
            with torch.inference_mode():
                for batch in (1, 4):
                    compiled(torch.randn(batch, 3, NUM_SEGMENTS, SIZE, SIZE))
            results["compile_s"] = time.perf_counter() - started
            print(f"compiled path: first calls at batch 1 and 4 took {results['compile_s']:.0f} s (compilation)")
        print("(0) same weights, same logits: tanet vs MMAction2 (batch 2)")
        results["logit_difference"] = check_logits(peer, fast)
        for batch, calls in ((1, 3), (4, 2)):
            figures = results[f"eval_batch{batch}"] = bench_eval(peer, {**fast, **floor}, batch, rounds, calls)
            print(f"(1) eval latency, batch {batch}, 8x224x224: speed-up over MMAction2 "
                  f"(median (range) of {rounds} rounds x {calls} interleaved calls; target >= 1.5 with the fast path)")
            for name, values in figures["speedup"].items():
                print(f"    {name:<24} {fmt_range(values)}x")
            print("    ms: " + ", ".join(f"{k} {v:.0f}" for k, v in figures["ms"].items()))
    if args.only in (None, "train"):
        figures = results["train_step"] = bench_train(peer, ours, rounds, 2)
        print(f"(2) training step (forward+backward+SGD), batch 2, 8x224x224: speed-up over MMAction2 "
              f"(median (range) of {rounds} rounds x 2 calls; target >= 1.15)")
        for name, values in figures["speedup"].items():
            print(f"    {name:<20} {fmt_range(values)}x")
        print("    ms: " + ", ".join(f"{k} {v:.0f}" for k, v in figures["ms"].items()))
    if args.only in (None, "memory"):
        figures = results["memory"] = bench_memory()
        print("(3) training peak-RSS growth, one step, batch 2, 8x224x224, median of 3 fresh processes each "
              "(target: tanet <= MMAction2)")
        for name, value in figures["over_mmaction2"].items():
            print(f"    {name} / mmaction2  {value:.3f}")
        print("    MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in figures["MiB"].items()))
        saved = results["saved_for_backward"] = {"mmaction2": saved_for_backward(peer),
                                                 "tanet": saved_for_backward(tanet_for_training(False, ours))}
        peer.eval()
        print("(3b) saved for backward after one training forward, batch 2, 8x224x224 (deterministic; each storage "
              "once): MiB (saved tensors)")
        for name, figures in saved.items():
            print(f"    {name:<10} {figures['total_MiB']:8.1f} MiB ({figures['saved_tensors']} tensors)")
    print(f"done, {machine_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
