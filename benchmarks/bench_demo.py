"""Where the demo's time goes, and would training several seeds as one batched model pay on this CPU?

``--part steps``: one training step (16 clips) and one test batch of each demo model, single-threaded, for
the R26 demo (width 1/8, channels_last) against the R18 demo it replaced (width 1/4, contiguous), interleaved;
the ratio new / old per model, from which the demo's time scales (the demo's runs are these steps).

``--part grouped`` (the default question below):

The idea (issue 21): S seeds of one tiny model as one model whose members are independent through grouped
convolutions (member m owns channels m·C..(m+1)·C of every layer; BatchNorm and ReLU act per channel, so
per member). One step of the batched model does the work of S steps in fewer, larger kernels. It pays only
if the grouped kernels are not slower per member than S separate small ones.

Measured side by side, one thread (as the demo's workers run): one training step (forward, backward, AdamW)
of a ResNet-26 bottleneck body at the demo's shapes (width 1/8: 8..64 base channels, 16 clips x 8 frames of
56x56) as S separate models, against the same S members stacked in one grouped model. The ratio
``grouped / (S x separate)`` per member is printed per round (below 1: the batched model pays).

    python benchmarks/bench_demo.py [--part grouped|steps] [--members 5] [--quick]
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


OLD = {"tanet": "tanet_r18", "tsn": "tsn_r18", "tsm": "tsm_r18", "i3d": "i3d333_r18"}
NEW = {"tanet": "tanet_r26", "tsn": "tsn_r26", "tsm": "tsm_r26", "i3d": "i3d311_r26"}


def model_steps(name: str, width: float, channels_last: bool, batch: int = 16, size: int = 56):
    """A training step (AdamW, clipping) and a test batch of a demo model at the demo's input."""
    from tanet import create_model
    from tanet.models.inference import to_channels_last

    model = create_model(name, num_classes=12, num_segments=8, width=width, dropout=0.2)
    if channels_last:
        to_channels_last(model)
    clips, labels = torch.randn(batch, 3, 8, size, size), torch.randint(0, 12, (batch,))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train() -> None:
        model.train()
        torch.nn.functional.cross_entropy(model(clips), labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 20.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def test() -> None:
        model.eval()
        with torch.no_grad():
            model(clips)

    return train, test


def steps(args) -> None:
    rounds = 3 if args.quick else 5
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} thread(s), "
          f"{machine_load()}")
    figures = {}
    for short in OLD:
        old_train, old_test = model_steps(OLD[short], 0.25, False)
        new_train, new_test = model_steps(NEW[short], 0.125, True, size=args.size)
        medians = interleaved_rounds({"old_train": old_train, "new_train": new_train, "old_test": old_test,
                                      "new_test": new_test}, rounds, calls_per_round=3)
        train_ratio = ratios(medians["new_train"], medians["old_train"])
        test_ratio = ratios(medians["new_test"], medians["old_test"])
        figures[short] = {"train": summary(train_ratio), "test": summary(test_ratio),
                          "new_train_ms": 1000 * min(medians["new_train"]), "new_test_ms": 1000 * min(medians["new_test"])}
        print(f"{short:5s} training step {NEW[short]} / {OLD[short]}: {fmt_range(train_ratio)} "
              f"({fmt_range([1000 * v for v in medians['new_train']], 0)} ms); test batch: {fmt_range(test_ratio)}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("grouped", "steps"), default="grouped")
    parser.add_argument("--members", type=int, default=5, help="seeds per batched model (the demo's 5)")
    parser.add_argument("--size", type=int, default=56, help="--part steps: the R26 demo's crop (the R18 demo's: 56)")
    add_common_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads or 1)
    torch.manual_seed(0)
    if args.part == "steps":
        steps(args)
        return
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
