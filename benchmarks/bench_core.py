"""Core speed and memory benchmark: fused TAM vs the official formulation, and TANet vs TSN/TSM.

Prints ratios measured side by side in one run (candidates interleaved, medians), because the machine
is shared and noisy. Usage:

    python benchmarks/bench_core.py            # everything
    python benchmarks/bench_core.py --quick    # smaller repeat counts

Targets (issue 2): fused TAM >= 3x faster than the reference forward+backward; the fused op <= 1.5x
an elementwise multiply of the same tensor (forward); TANet/TSN latency <= 1.05; TANet/TSN training
peak-memory growth <= 1.08.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from tanet import TAM, adaptive_temporal_conv, adaptive_temporal_conv_reference, create_model


def interleaved_medians(candidates: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds of each candidate, run in turns so that load changes hit all of them alike."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) for name, samples in times.items()}


def bench_tam(repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    num_clips, num_segments, channels, size = 2, 8, 256, 56
    x = torch.randn(num_clips * num_segments, channels, size, size)
    kernel = torch.softmax(torch.randn(num_clips, channels, 3), -1)
    importance = torch.rand(num_clips, channels, num_segments)
    scale = torch.rand(num_clips * num_segments, channels, 1, 1)
    tam = TAM(channels, num_segments)
    reference_tam = TAM(channels, num_segments)
    reference_tam.load_state_dict(tam.state_dict())

    def reference_forward(inputs: torch.Tensor) -> torch.Tensor:
        importance_map, adaptive_kernel = reference_tam.branch_outputs(inputs)
        return adaptive_temporal_conv_reference(inputs, adaptive_kernel, importance_map)

    x_grad = x.clone().requires_grad_(True)
    # a dense upstream gradient, as the next conv would send (``.sum()`` would send a broadcast view)
    upstream = torch.randn_like(x)

    def train_step(module_forward: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            module_forward(x_grad).backward(upstream)

        return run

    with torch.no_grad():
        forward = interleaved_medians(
            {
                "fused_op": lambda: adaptive_temporal_conv(x, kernel, importance),
                "reference_op": lambda: adaptive_temporal_conv_reference(x, kernel, importance),
                "elementwise_floor": lambda: x * scale,
                "fused_tam": lambda: tam(x),
                "reference_tam": lambda: reference_forward(x),
            },
            repeats,
        )
    backward = interleaved_medians(
        {"fused_tam": train_step(tam), "reference_tam": train_step(reference_forward)}, max(repeats // 2, 3)
    )
    return {
        "op_forward_speedup": forward["reference_op"] / forward["fused_op"],
        "tam_forward_speedup": forward["reference_tam"] / forward["fused_tam"],
        "tam_forward_backward_speedup": backward["reference_tam"] / backward["fused_tam"],
        "op_over_elementwise_floor": forward["fused_op"] / forward["elementwise_floor"],
        "tam_over_elementwise_floor": forward["fused_tam"] / forward["elementwise_floor"],
        "ms": {**{f"forward_{k}": v * 1e3 for k, v in forward.items()}, **{f"train_{k}": v * 1e3 for k, v in backward.items()}},
    }


def bench_latency(repeats: int, size: int = 224, num_segments: int = 8) -> dict[str, float]:
    torch.manual_seed(0)
    clips = torch.randn(1, 3, num_segments, size, size)
    models = {name: create_model(name, num_classes=400, num_segments=num_segments).eval() for name in ("tanet_r50", "tsn_r50", "tsm_r50")}
    with torch.inference_mode():
        medians = interleaved_medians({name: (lambda m=model: m(clips)) for name, model in models.items()}, repeats, warmup=1)
    return {
        "tanet_over_tsn": medians["tanet_r50"] / medians["tsn_r50"],
        "tsm_over_tsn": medians["tsm_r50"] / medians["tsn_r50"],
        "ms": {name: value * 1e3 for name, value in medians.items()},
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_probe(name: str) -> None:
    """Run in a child process: peak RSS growth of one training forward+backward."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=400, num_segments=8).train()
    clips = torch.randn(2, 3, 8, 160, 160)
    labels = torch.zeros(2, dtype=torch.long)
    before = _rss_bytes()
    loss = torch.nn.functional.cross_entropy(model(clips), labels)
    loss.backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    print(json.dumps({"model": name, "growth_bytes": peak - before}))


def bench_memory(repeats: int = 3) -> dict[str, float]:
    """Median over ``repeats`` fresh processes per model. A fixed glibc mmap threshold sends every large
    buffer to mmap, so freed activations leave RSS at once (glibc's adaptive threshold otherwise keeps
    some in the heap, which made single runs swing by ±8 %)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    growth = {}
    for name in ("tanet_r50", "tsn_r50", "tsm_r50"):
        samples = []
        for _ in range(repeats):
            result = subprocess.run(
                [sys.executable, __file__, "--memory-probe", name], capture_output=True, text=True, check=True, env=env
            )
            samples.append(json.loads(result.stdout.strip().splitlines()[-1])["growth_bytes"])
        growth[name] = statistics.median(samples)
    return {
        "tanet_over_tsn": growth["tanet_r50"] / growth["tsn_r50"],
        "tsm_over_tsn": growth["tsm_r50"] / growth["tsn_r50"],
        "MiB": {name: value / 2**20 for name, value in growth.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--memory-probe", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["tam", "latency", "memory"], help="run one part")
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    results = {}
    if args.only in (None, "tam"):
        results["tam"] = tam = bench_tam(repeats=8 if args.quick else 20)
        print("(1) TAM, N=2 T=8 C=256 56x56, fused vs official grouped-conv reference (speed-up, higher is better)")
        print(f"    op forward              {tam['op_forward_speedup']:.2f}x")
        print(f"    TAM forward             {tam['tam_forward_speedup']:.2f}x")
        print(f"    TAM forward+backward    {tam['tam_forward_backward_speedup']:.2f}x   (target >= 3)")
        print("(2) fused vs an elementwise multiply of the same tensor (forward time ratio, lower is better)")
        print(f"    fused op / floor        {tam['op_over_elementwise_floor']:.2f}    (target <= 1.5)")
        print(f"    whole TAM / floor       {tam['tam_over_elementwise_floor']:.2f}    (pooling + branches + op)")
    if args.only in (None, "latency"):
        results["latency"] = latency = bench_latency(repeats=3 if args.quick else 15)
        print("(3) latency, batch 1, 8x224x224, eval (ratio to tsn_r50)")
        print(f"    tanet_r50 / tsn_r50     {latency['tanet_over_tsn']:.3f}   (target <= 1.05)")
        print(f"    tsm_r50 / tsn_r50       {latency['tsm_over_tsn']:.3f}")
        print("    ms: " + ", ".join(f"{k} {v:.0f}" for k, v in latency["ms"].items()))
    if args.only in (None, "memory"):
        results["memory"] = memory = bench_memory()
        print("(4) training peak-RSS growth, batch 2, 8x160x160, forward+backward, median of 3 processes (ratio to tsn_r50)")
        print(f"    tanet_r50 / tsn_r50     {memory['tanet_over_tsn']:.3f}   (target <= 1.08)")
        print(f"    tsm_r50 / tsn_r50       {memory['tsm_over_tsn']:.3f}")
        print("    MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in memory["MiB"].items()))


if __name__ == "__main__":
    main()
