"""Core speed and memory benchmark: fused TAM vs the official formulation, and TANet vs TSN/TSM.

Prints ratios measured side by side in one run (candidates interleaved; several rounds, each ratio
given as the median and range over the rounds), because the machine is shared and noisy. Usage:

    PYTHONPATH=src python benchmarks/bench_core.py            # everything
    PYTHONPATH=src python benchmarks/bench_core.py --quick    # fewer rounds
    PYTHONPATH=src python benchmarks/bench_core.py --only latency|train|tam|memory|breakdown|ops

``--only ops`` profiles one training step and one fused eval of tanet_r50 and tsn_r50 (torch.profiler) and
prints, per operator, tanet's self CPU time minus tsn's, as ms and % of tsn_r50: where the time outside TAM's
passes goes (extra BatchNorms, layout copies, gradient sums, a slower convolution).

``--only breakdown`` times each of TAM's passes (squeeze, branches, tap weights, the temporal op; in
training also the recomputation, dX and dC) on the inputs every TAM of tanet_r50 sees, and prints each
as a share of tsn_r50's eval latency / training step: where tanet's time above TSN goes.

Targets: fused TAM >= 3x faster than the reference forward+backward; the fused op <= 1.5x an
elementwise multiply of the same tensor (forward); tanet_r50 / tsn_r50 eval latency <= 1.02 and
training-step time <= 1.04 (issue 15); training peak-memory growth <= 1.08.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from tanet import TAM, adaptive_temporal_conv, adaptive_temporal_conv_reference, create_model
from tanet.engine.resolve import training_layout
from tanet.models.inference import prepare_for_inference, to_channels_last
from tanet.modules.adaptive_conv import temporal_coefficients
from tanet.modules.tam import spatial_mean
from tanet.modules.tap_kernels import _adaptive_temporal_conv_backward, _shifted_multiply_add

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


def bench_tam(rounds: int) -> dict:
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
        forward = interleaved_rounds(
            {
                "fused_op": lambda: adaptive_temporal_conv(x, kernel, importance),
                "reference_op": lambda: adaptive_temporal_conv_reference(x, kernel, importance),
                "elementwise_floor": lambda: x * scale,
                "fused_tam": lambda: tam(x),
                "reference_tam": lambda: reference_forward(x),
            },
            rounds, calls_per_round=5, warmup=2,
        )
    backward = interleaved_rounds(
        {"fused_tam": train_step(tam), "reference_tam": train_step(reference_forward)}, rounds, calls_per_round=3, warmup=2
    )
    return {
        "op_forward_speedup": ratios(forward["reference_op"], forward["fused_op"]),
        "tam_forward_speedup": ratios(forward["reference_tam"], forward["fused_tam"]),
        "tam_forward_backward_speedup": ratios(backward["reference_tam"], backward["fused_tam"]),
        "op_over_elementwise_floor": ratios(forward["fused_op"], forward["elementwise_floor"]),
        "tam_over_elementwise_floor": ratios(forward["fused_tam"], forward["elementwise_floor"]),
        "ms": {**{f"forward_{k}": statistics.median(v) * 1e3 for k, v in forward.items()},
               **{f"train_{k}": statistics.median(v) * 1e3 for k, v in backward.items()}},
    }


def bench_latency(rounds: int, calls: int = 3, size: int = 224, num_segments: int = 8) -> dict:
    """Eval latency, batch 1, of the three R50 models, eager and on the fused inference path."""
    torch.manual_seed(0)
    clips = torch.randn(1, 3, num_segments, size, size)
    models = {}
    for name in ("tanet_r50", "tsn_r50", "tsm_r50"):
        model = create_model(name, num_classes=400, num_segments=num_segments).eval()
        models[f"{name} eager"] = model
        models[f"{name} fused"] = prepare_for_inference(model, "fused")
    with torch.inference_mode():
        medians = interleaved_rounds({name: (lambda m=model: m(clips)) for name, model in models.items()}, rounds, calls)
    return {
        "ratios": {
            f"{name} / tsn_r50 ({path})": ratios(medians[f"{name} {path}"], medians[f"tsn_r50 {path}"])
            for path in ("eager", "fused") for name in ("tanet_r50", "tsm_r50")
        },
        "ms": {name: statistics.median(values) * 1e3 for name, values in medians.items()},
    }


def bench_train_step(rounds: int, calls: int = 2, size: int = 224, num_segments: int = 8) -> dict:
    """One training step (forward + backward + SGD step), batch 2, tanet_r50 vs tsn_r50, with the
    default layout and with ``runtime.channels_last``."""
    torch.manual_seed(0)
    clips = torch.randn(2, 3, num_segments, size, size)
    labels = torch.tensor([1, 2])

    def step_of(name: str, channels_last: bool) -> Callable[[], None]:
        model = create_model(name, num_classes=400, num_segments=num_segments).train()
        if channels_last:
            to_channels_last(model)
        return sgd_training_step(model, clips, labels)

    steps = {f"{name} {layout}": step_of(name, layout == "channels_last")
             for layout in ("default", "channels_last") for name in ("tanet_r50", "tsn_r50")}
    medians = interleaved_rounds(steps, rounds, calls)
    return {
        "ratios": {f"tanet_r50 / tsn_r50 ({layout})": ratios(medians[f"tanet_r50 {layout}"], medians[f"tsn_r50 {layout}"])
                   for layout in ("default", "channels_last")},
        "ms": {name: statistics.median(values) * 1e3 for name, values in medians.items()},
    }


def _tam_inputs(model: torch.nn.Module, clips: torch.Tensor) -> list[tuple[TAM, torch.Tensor]]:
    """Every TAM of ``model`` with a copy of the input it gets in one forward of ``clips``."""
    seen: list[tuple[TAM, torch.Tensor]] = []
    hooks = [module.register_forward_pre_hook(lambda module, args: seen.append(
        (module, args[0].detach().clone(memory_format=torch.preserve_format))))
        for module in model.modules() if isinstance(module, TAM)]
    with torch.no_grad():
        model(clips)
    for hook in hooks:
        hook.remove()
    return seen


def _pass_timers(tams: list[tuple[TAM, torch.Tensor]], training: bool) -> dict[str, Callable[[], None]]:
    """One callable per pass of TAM, each running that pass for every TAM of the model in turn."""
    prepared = []
    with torch.no_grad():
        for tam, x in tams:
            importance_map, adaptive_kernel = tam.branch_outputs(x)
            coefficients = temporal_coefficients(adaptive_kernel, importance_map, tam.num_segments)
            prepared.append((tam, x, spatial_mean(x), coefficients, torch.randn_like(x),
                             importance_map, adaptive_kernel))

    def each(run: Callable[..., object]) -> Callable[[], None]:
        def timed() -> None:
            for item in prepared:
                run(*item)
        return timed

    def branches(tam, x, pooled, *_):
        pooled = pooled.view(-1, tam.num_segments, pooled.shape[1]).transpose(1, 2)
        if not training:
            tam._local_branch(pooled), tam.G(pooled.reshape(-1, tam.num_segments))
            return
        pooled = pooled.detach().requires_grad_(True)
        importance_map = tam._local_branch(pooled)
        adaptive_kernel = tam.G(pooled.reshape(-1, tam.num_segments))
        (importance_map.sum() + adaptive_kernel.sum()).backward()

    timers = {
        "squeeze (spatial mean)": each(lambda tam, x, *_: spatial_mean(x)),
        "branches L and G" + (" (fwd+bwd)" if training else ""): each(branches),
        "tap weights": each(lambda tam, x, pooled, coefficients, grad, importance_map, adaptive_kernel:
                            temporal_coefficients(adaptive_kernel, importance_map, tam.num_segments)),
        # in training the op runs twice: in the forward and again in the backward (its output is not kept)
        "temporal op" + (" x2 (forward, recomputed in backward)" if training else ""):
            each(lambda tam, x, pooled, coefficients, *_: [_shifted_multiply_add(x, coefficients)
                                                                    for _ in range(1 + training)]),
    }
    if training:
        timers["dX (adjoint taps)"] = each(lambda tam, x, pooled, coefficients, grad, *_:
                                           _adaptive_temporal_conv_backward(x, coefficients, grad, True, False))
        timers["dC (per-tap dot products)"] = each(lambda tam, x, pooled, coefficients, grad, *_:
                                                   _adaptive_temporal_conv_backward(x, coefficients, grad, False, True))
        timers["squeeze backward (broadcast add)"] = each(lambda tam, x, pooled, coefficients, grad, *_:
                                                          grad.add_(pooled[:, :, None, None]))
    return timers


def bench_breakdown(rounds: int, size: int = 224, num_segments: int = 8) -> dict:
    """TAM's passes on the inputs of tanet_r50's 16 TAMs, as shares of tsn_r50's eval latency (fused path,
    batch 1) and of its training step (batch 2, in the layout ``runtime.channels_last=auto`` picks)."""
    torch.manual_seed(0)
    results = {}
    eval_clips = torch.randn(1, 3, num_segments, size, size)
    fused = {name: prepare_for_inference(create_model(name, num_classes=400, num_segments=num_segments).eval(), "fused")
             for name in ("tanet_r50", "tsn_r50")}
    with torch.inference_mode():
        passes = _pass_timers(_tam_inputs(fused["tanet_r50"], eval_clips), training=False)
        medians = interleaved_rounds({**{f"{name} (whole model)": (lambda m=m: m(eval_clips)) for name, m in fused.items()},
                                      **passes}, rounds, calls_per_round=2)
    results["eval"] = _shares(medians, "tsn_r50 (whole model)")
    channels_last, _ = training_layout("cpu", "none")
    train_clips, labels = torch.randn(2, 3, num_segments, size, size), torch.tensor([1, 2])
    models = {name: create_model(name, num_classes=400, num_segments=num_segments).train() for name in ("tanet_r50", "tsn_r50")}
    if channels_last:
        for model in models.values():
            to_channels_last(model)
    passes = _pass_timers(_tam_inputs(models["tanet_r50"], train_clips), training=True)
    steps = {f"{name} (whole step)": sgd_training_step(model, train_clips, labels) for name, model in models.items()}
    medians = interleaved_rounds({**steps, **passes}, rounds, calls_per_round=1)
    results["train"] = _shares(medians, "tsn_r50 (whole step)")
    results["train_layout"] = "channels_last" if channels_last else "default"
    return results


def _shares(medians: dict[str, list[float]], reference: str) -> dict[str, dict[str, float]]:
    """Per candidate: median ms, and its share of the reference (per round, median and range)."""
    return {name: {"ms": statistics.median(values) * 1e3,
                   "share": ratios(values, medians[reference])} for name, values in medians.items()}


def _print_breakdown(label: str, shares: dict[str, dict], reference: str) -> None:
    print(f"    {label}: ms, and share of {reference} (median (range))")
    passes_total = 0.0
    for name, figures in shares.items():
        whole = name.endswith(("(whole model)", "(whole step)"))
        if not whole:
            passes_total += statistics.median(figures["share"])
        print(f"      {name:<44} {figures['ms']:9.1f}   {fmt_range([100 * v for v in figures['share']], 1)} %")
    print(f"      {'sum of the passes above':<44} {'':9}   {100 * passes_total:.1f} %")


def _self_times(run: Callable[[], None], rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Per operator name: self CPU ms and calls per run, averaged over ``rounds`` profiled runs."""
    from torch.profiler import ProfilerActivity, profile

    milliseconds: dict[str, float] = {}
    calls: dict[str, float] = {}
    for _ in range(rounds):
        with profile(activities=[ProfilerActivity.CPU]) as recording:
            run()
        for event in recording.key_averages():
            milliseconds[event.key] = milliseconds.get(event.key, 0.0) + event.self_cpu_time_total / 1e3 / rounds
            calls[event.key] = calls.get(event.key, 0.0) + event.count / rounds
    return milliseconds, calls


def bench_op_profile(rounds: int, size: int = 224, num_segments: int = 8) -> dict:
    """tanet_r50 minus tsn_r50, per operator (torch.profiler self CPU time), for the training step (batch 2,
    the layout ``runtime.channels_last=auto`` picks) and for fused eval at batch 1: which operators hold the
    time tanet spends above TSN. Self times add up to the step (the profiler's own overhead aside), so the
    shares locate the gap; under load, run with ``--threads 1`` (a parallel region that waits for a
    preempted thread inflates every small operator alike)."""
    torch.manual_seed(0)
    channels_last, _ = training_layout("cpu", "none")
    train_clips, labels = torch.randn(2, 3, num_segments, size, size), torch.tensor([1, 2])
    eval_clips = torch.randn(1, 3, num_segments, size, size)
    results = {"train_layout": "channels_last" if channels_last else "default"}
    for mode in ("train", "eval"):
        runs = {}
        for name in ("tanet_r50", "tsn_r50"):
            model = create_model(name, num_classes=400, num_segments=num_segments)
            if mode == "train":
                runs[name] = sgd_training_step(to_channels_last(model.train()) if channels_last else model.train(),
                                               train_clips, labels)
            else:
                fused = prepare_for_inference(model.eval(), "fused")
                runs[name] = lambda m=fused: m(eval_clips)
        with torch.inference_mode(mode == "eval"):
            for run in runs.values():
                run()  # warm-up: oneDNN primitives, allocator
            profiles = {name: _self_times(run, rounds) for name, run in runs.items()}
        (tanet_ms, tanet_calls), (tsn_ms, tsn_calls) = profiles["tanet_r50"], profiles["tsn_r50"]
        results[mode] = {
            "total_ms": {"tanet_r50": sum(tanet_ms.values()), "tsn_r50": sum(tsn_ms.values())},
            "calls": {"tanet_r50": sum(tanet_calls.values()), "tsn_r50": sum(tsn_calls.values())},
            "ops": {op: {"tanet_ms": tanet_ms.get(op, 0.0), "tsn_ms": tsn_ms.get(op, 0.0),
                         "tanet_calls": tanet_calls.get(op, 0.0), "tsn_calls": tsn_calls.get(op, 0.0)}
                    for op in set(tanet_ms) | set(tsn_ms)},
        }
    return results


def _print_op_profile(label: str, figures: dict, shown: int = 12) -> None:
    reference = figures["total_ms"]["tsn_r50"]
    gap = figures["total_ms"]["tanet_r50"] - reference
    print(f"    {label}: self CPU ms per run tanet_r50 {figures['total_ms']['tanet_r50']:.0f}, tsn_r50 {reference:.0f} "
          f"(gap {gap:.0f} ms = {100 * gap / reference:.1f} % of tsn_r50); operator calls "
          f"{figures['calls']['tanet_r50']:.0f} vs {figures['calls']['tsn_r50']:.0f}")
    ordered = sorted(figures["ops"].items(), key=lambda item: item[1]["tsn_ms"] - item[1]["tanet_ms"])
    print(f"      {'operator':<44} {'tanet ms':>9} {'tsn ms':>9} {'diff ms':>8} {'% of tsn':>8}  calls tanet/tsn")
    for op, row in ordered[:shown] + [("...", None)] + ordered[-3:]:
        if row is None:
            print("      ...")
            continue
        diff = row["tanet_ms"] - row["tsn_ms"]
        print(f"      {op[:44]:<44} {row['tanet_ms']:9.1f} {row['tsn_ms']:9.1f} {diff:8.1f} {100 * diff / reference:7.2f} %"
              f"  {row['tanet_calls']:.0f}/{row['tsn_calls']:.0f}")


def memory_probe(name: str) -> None:
    """Run in a child process: peak RSS growth of one training forward+backward."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=400, num_segments=8).train()
    clips = torch.randn(2, 3, 8, 160, 160)
    labels = torch.zeros(2, dtype=torch.long)
    before = rss_bytes()
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
    add_common_arguments(parser)
    parser.add_argument("--memory-probe", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["tam", "latency", "train", "memory", "breakdown", "ops"], help="run one part")
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, {machine_load()}")
    rounds = 3 if args.quick else 5
    results = {}
    if args.only in (None, "tam"):
        results["tam"] = tam = bench_tam(rounds)
        print("(1) TAM, N=2 T=8 C=256 56x56, fused vs official grouped-conv reference (speed-up, higher is better; "
              f"median (range) of {rounds} rounds)")
        print(f"    op forward              {fmt_range(tam['op_forward_speedup'])}x")
        print(f"    TAM forward             {fmt_range(tam['tam_forward_speedup'])}x")
        print(f"    TAM forward+backward    {fmt_range(tam['tam_forward_backward_speedup'])}x   (target >= 3)")
        print("(2) fused vs an elementwise multiply of the same tensor (forward time ratio, lower is better)")
        print(f"    fused op / floor        {fmt_range(tam['op_over_elementwise_floor'])}    (target <= 1.5)")
        print(f"    whole TAM / floor       {fmt_range(tam['tam_over_elementwise_floor'])}    (pooling + branches + op)")
    if args.only in (None, "latency"):
        results["latency"] = latency = bench_latency(rounds)
        print(f"(3) eval latency, batch 1, 8x224x224, ratio to tsn_r50 on the same inference path "
              f"(median (range) of {rounds} rounds x 3 interleaved calls; target tanet <= 1.02)")
        for label, values in latency["ratios"].items():
            print(f"    {label:<30} {fmt_range(values, 3)}")
        print("    ms: " + ", ".join(f"{k} {v:.0f}" for k, v in latency["ms"].items()))
    if args.only in (None, "train"):
        results["train"] = train = bench_train_step(rounds)
        print(f"(3b) training step (forward+backward+SGD), batch 2, 8x224x224 "
              f"(median (range) of {rounds} rounds x 2 interleaved calls; target <= 1.04)")
        auto_layout, why = training_layout("cpu", "none")
        print(f"    runtime.channels_last=auto picks {'channels_last' if auto_layout else 'the default layout'} here ({why})")
        for label, values in train["ratios"].items():
            print(f"    {label:<36} {fmt_range(values, 3)}")
        print("    ms: " + ", ".join(f"{k} {v:.0f}" for k, v in train["ms"].items()))
    if args.only in (None, "memory"):
        results["memory"] = memory = bench_memory()
        print("(4) training peak-RSS growth, batch 2, 8x160x160, forward+backward, median of 3 processes (ratio to tsn_r50)")
        print(f"    tanet_r50 / tsn_r50     {memory['tanet_over_tsn']:.3f}   (target <= 1.08)")
        print(f"    tsm_r50 / tsn_r50       {memory['tsm_over_tsn']:.3f}")
        print("    MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in memory["MiB"].items()))
    if args.only in (None, "breakdown"):
        results["breakdown"] = breakdown = bench_breakdown(rounds)
        print(f"(5) where tanet_r50's time above tsn_r50 goes: TAM's passes on the inputs of its 16 TAMs "
              f"({rounds} rounds, interleaved with the whole models)")
        _print_breakdown("eval, batch 1, 8x224x224, fused path", breakdown["eval"], "tsn_r50 (whole model)")
        _print_breakdown(f"training step, batch 2, 8x224x224, {breakdown['train_layout']} layout",
                         breakdown["train"], "tsn_r50 (whole step)")
    if args.only == "ops":  # not part of a full run: profiling is slow and its overhead skews the timings above
        results["ops"] = ops = bench_op_profile(2 if args.quick else 3)
        print("(6) tanet_r50 minus tsn_r50 per operator (torch.profiler self CPU time, mean of "
              f"{2 if args.quick else 3} profiled runs each, after a warm-up)")
        _print_op_profile(f"training step, batch 2, 8x224x224, {ops['train_layout']} layout", ops["train"])
        _print_op_profile("eval, batch 1, 8x224x224, fused path", ops["eval"])
    print(f"done, {machine_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
