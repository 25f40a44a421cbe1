"""Would training several seeds as one batched model pay on this CPU? The demo's question, measured.

The idea (issue 21): S seeds of one tiny model as one model whose members are independent through grouped
convolutions (member m owns channels m·C..(m+1)·C of every layer; BatchNorm and ReLU act per channel, so
per member). One step of the batched model does the work of S steps in fewer, larger kernels. It pays only
if the grouped kernels are not slower per member than S separate small ones.

Measured side by side, one thread (as the demo's workers run): one training step (forward, backward, AdamW)
of a ResNet-26 bottleneck body at the demo's shapes (width 1/8: 8..64 base channels, 16 clips x 8 frames of
56x56) as S separate models, against the same S members stacked in one grouped model. The ratio
``grouped / (S x separate)`` per member is printed per round (below 1: the batched model pays).

    python benchmarks/bench_demo.py [--members 5] [--quick]
"""
from __future__ import annotations

import argparse
import json

import torch
from torch import nn

from _timing import add_common_arguments, fmt_range, interleaved_rounds, machine_load, ratios, summary


def bottleneck_body(members: int, width: float = 0.125) -> nn.Sequential:
    """Stem + [2, 2, 2, 2] bottlenecks (1x1, 3x3, 1x1 with BatchNorm and ReLU; no residual adds, which do not
    change the comparison) with ``members`` independent copies in grouped convolutions."""
    g = members
    base = max(int(round(64 * width)), 1)

    def conv(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin * g, cout * g, k, stride, k // 2, bias=False, groups=g), nn.BatchNorm2d(cout * g),
                nn.ReLU(inplace=True)]

    layers = conv(3, base, 7, 2) + [nn.MaxPool2d(3, 2, 1)]
    channels = base
    for stage in range(4):
        planes = base * 2 ** stage
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            layers += conv(channels, planes, 1) + conv(planes, planes, 3, stride) + conv(planes, planes * 4, 1)
            channels = planes * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def adamw_step(model: nn.Module, frames: torch.Tensor):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        model(frames).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5, help="seeds per batched model (the demo's 5)")
    add_common_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads or 1)
    torch.manual_seed(0)
    frames = 16 * 8
    separate = [adamw_step(bottleneck_body(1), torch.randn(frames, 3, 56, 56)) for _ in range(args.members)]
    grouped = adamw_step(bottleneck_body(args.members), torch.randn(frames, 3 * args.members, 56, 56))

    def all_separate() -> None:
        for step in separate:
            step()

    rounds = 3 if args.quick else 7
    medians = interleaved_rounds({"separate": all_separate, "grouped": grouped}, rounds, calls_per_round=2)
    ratio = ratios(medians["grouped"], medians["separate"])
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s), "
          f"{machine_load()}")
    print(f"{args.members} separate models, one step each: {fmt_range([1000 * v for v in medians['separate']], 0)} ms")
    print(f"one grouped model of {args.members} members:    {fmt_range([1000 * v for v in medians['grouped']], 0)} ms")
    print(f"grouped / separate, per member (median, range over {rounds} rounds): {fmt_range(ratio)}"
          f" -> {'pays' if max(ratio) < 1 else 'does not pay'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"ratio": summary(ratio), "members": args.members,
                       "capability": torch.backends.cpu.get_cpu_capability()}, handle)


if __name__ == "__main__":
    main()
