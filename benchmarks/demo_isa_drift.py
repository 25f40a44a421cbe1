"""How far each stage of ``tanet demo`` drifts when the CPU computes with other vector instructions.

"Another machine" measured on this one: each stage runs in a fresh process under each setting of the
dispatch variables (read when torch loads, so a subprocess each):

* ``native``: what this CPU picks (``torch.backends.cpu.get_cpu_capability()`` is printed);
* ``avx2``: ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` (an AVX2 machine; the same as native on one);
* ``sse41``: ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41`` (an older machine).

Stages (``stages``): the rendered files and their decoded frames; the 2D start (a short ``pretrain-2d``);
the first training steps of TANet from one shared 2D start on one shared set (loss per step, weights after
the last step). ``compare A/metrics.json B/metrics.json`` compares two finished demos (final numbers): per cell
and seed the top-1 difference, and whether every claim's verdict agrees.

    python benchmarks/demo_isa_drift.py stages --out /tmp/drift [--depth 26] [--steps 30]
    python benchmarks/demo_isa_drift.py compare runs/demo/metrics.json runs/demo_sse41/metrics.json

Bit-identical stages print ``identical``; others the largest difference. Numbers only, no timing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

SETTINGS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "sse41": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}


# --------------------------------------------------------------------------- stages (in a subprocess)


def _stage_render(out: Path, args) -> dict:
    from tanet.data.synthetic import SyntheticSpec, generate
    from tanet.demo.fingerprint import decoded_clips_digest

    spec = SyntheticSpec(kind="motion", train_per_class=2, val_per_class=1)
    dataset = generate(spec, root=out / "set", workers=1)
    files = hashlib.sha256()
    for path in sorted((out / "set" / "videos").rglob("*.mp4")):
        files.update(path.read_bytes())
    return {"files": files.hexdigest(), "decoded": decoded_clips_digest([dataset.train_list, dataset.val_list],
                                                                       dataset.root)["sha256"]}


def _stage_pretrain(out: Path, args) -> dict:
    import torch

    from tanet.demo.fingerprint import tensors_digest
    from tanet.engine.pretrain2d import Pretrain2DOptions, pretrain_2d

    options = Pretrain2DOptions(depth=args.depth, width=args.width, per_class=10, val_per_class=2, epochs=1)
    model, summary = pretrain_2d(options, threads=1, log=lambda text: None)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(state, out / "start.pth")
    return {"weights": tensors_digest(state), "val_top1": summary["val_top1"]}


def _clips(set_root: Path, frames_per_clip: int, stride: int, size: int):
    """Every clip of a rendered set as (N, 3, T, size, size): frames 0, stride, ..., centre crop, normalised."""
    import torch

    from tanet.data.decode import get_backend
    from tanet.data.lists import read_list
    from tanet.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    clips, labels = [], []
    for record in read_list(set_root / "train.txt", set_root):
        with get_backend(None, record.path).open(record.path) as reader:
            frames = reader.read(list(range(0, frames_per_clip * stride, stride))).float().div(255)  # (T, H, W, 3)
        frames = frames.permute(0, 3, 1, 2)
        offset = (frames.shape[-1] - size) // 2
        frames = frames[:, :, offset:offset + size, offset:offset + size]
        frames = (frames - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        clips.append(frames.permute(1, 0, 2, 3))
        labels.append(record.label)
    return torch.stack(clips), torch.tensor(labels)


def _stage_steps(out: Path, args) -> dict:
    import torch

    from tanet import create_model, load_pretrained_2d
    from tanet.demo.fingerprint import tensors_digest
    from tanet.engine.config import load_config
    from tanet.engine.optim import build_optimizer, build_param_groups

    torch.set_num_threads(1)
    shared = Path(args.shared)
    # the demo's runs: their clip layout, and their optimizer with its parameter groups
    recipe = load_config("demo_pretrained")
    num_segments = recipe.model.num_segments
    clips, labels = _clips(shared / "set", num_segments, recipe.data.dense_interval, recipe.data.size)
    torch.manual_seed(0)
    model = create_model(f"tanet_r{args.depth}", num_classes=12, num_segments=num_segments, width=args.width,
                         dropout=0.0)
    load_pretrained_2d(model, str(shared / "start.pth"))
    optim = recipe.optim
    optimizer = build_optimizer(build_param_groups(model, linear_policy=optim.linear_lr_policy), optim.lr,
                                optim.momentum, optim.weight_decay, optim.nesterov, optim.name)
    order = torch.randperm(len(clips), generator=torch.Generator().manual_seed(0))
    losses = []
    model.train()
    for step in range(args.steps):
        index = order[(step * 8) % len(order):][:8]
        loss = torch.nn.functional.cross_entropy(model(clips[index]), labels[index])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    torch.save(model.state_dict(), out / "steps.pth")
    return {"losses": losses, "weights": tensors_digest(model.state_dict())}


STAGES = {"render": _stage_render, "pretrain": _stage_pretrain, "steps": _stage_steps}


def _run_stage(args) -> None:
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = STAGES[args.stage](out, args)
    result["capability"] = torch.backends.cpu.get_cpu_capability()
    print(json.dumps(result))


# --------------------------------------------------------------------------- the comparison (parent)


def _in(setting: str, stage: str, out: Path, args, shared: Path) -> dict:
    env = {**os.environ, **SETTINGS[setting], "OMP_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "_stage", stage, "--out", str(out / setting), "--depth", str(args.depth),
               "--width", str(args.width), "--steps", str(args.steps), "--shared", str(shared)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _max_weight_difference(a: Path, b: Path) -> str:
    import torch

    first, second = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    worst, name = 0.0, ""
    for key, value in first.items():
        if value.is_floating_point():
            difference = float((value - second[key]).abs().max())
            scale = float(value.abs().max()) or 1.0
            if difference / scale > worst:
                worst, name = difference / scale, key
    return "identical" if worst == 0 else f"largest difference {worst:.2e} of the tensor's largest value ({name})"


def stages(args) -> None:
    out = Path(args.out)
    shared = out / "native"
    results: dict = {}
    for stage in ("render", "pretrain", "steps"):
        results[stage] = {setting: _in(setting, stage, out, args, shared) for setting in SETTINGS}
    print("capabilities: " + ", ".join(f"{s} {results['render'][s]['capability']}" for s in SETTINGS))
    for setting in SETTINGS:
        render, pretrain, steps = (results[stage][setting] for stage in ("render", "pretrain", "steps"))
        native = {stage: results[stage]["native"] for stage in results}
        print(f"\n{setting} vs native:")
        print(f"  rendered files {'identical' if render['files'] == native['render']['files'] else 'DIFFER'}; "
              f"decoded frames {'identical' if render['decoded'] == native['render']['decoded'] else 'DIFFER'}")
        same = pretrain["weights"] == native["pretrain"]["weights"]
        print(f"  2D start (1 epoch): {'identical' if same else _max_weight_difference(out / setting / 'start.pth', shared / 'start.pth')}"
              f"; val top-1 {pretrain['val_top1']:.2f} vs {native['pretrain']['val_top1']:.2f}")
        first = next((i for i, (a, b) in enumerate(zip(steps["losses"], native["steps"]["losses"])) if a != b), None)
        if first is None:
            print(f"  {args.steps} TANet steps from the same start and clips: every loss identical")
        else:
            gaps = [abs(a - b) for a, b in zip(steps["losses"], native["steps"]["losses"])]
            print(f"  {args.steps} TANet steps from the same start and clips: losses differ from step {first + 1} "
                  f"(|difference| {gaps[first]:.1e} there, {max(gaps[-5:]):.1e} over the last 5 steps); weights after "
                  f"the last step: {_max_weight_difference(out / setting / 'steps.pth', shared / 'steps.pth')}")
    (out / "drift.json").write_text(json.dumps(results, indent=1))


def compare(args) -> None:
    first, second = (json.loads(Path(p).read_text()) for p in (args.first, args.second))
    for label, metrics in (("A", first), ("B", second)):
        fingerprint = metrics.get("fingerprint", {})
        print(f"{label}: {Path(args.first if label == 'A' else args.second)} fingerprint {fingerprint.get('digest')} "
              f"CPU {fingerprint.get('cpu', {}).get('capability')} {fingerprint.get('cpu', {}).get('dispatch_env')}")
    print("\ntop-1 per seed, B − A (points):")
    worst, compared = 0.0, 0
    for kind in ("motion", "appearance"):
        for model, cell in first.get(kind, {}).items():
            other = second.get(kind, {}).get(model)
            if other is None or other["seeds"] != cell["seeds"]:
                if other is not None:  # other seeds: their means side by side, no per-seed difference
                    print(f"  {kind:10s} {model:5s} other seeds: {cell['top1']:.1f} ± {cell['top1_std']:.1f} -> "
                          f"{other['top1']:.1f} ± {other['top1_std']:.1f}")
                continue
            compared += 1
            gaps = [b - a for a, b in zip(cell["top1_seeds"], other["top1_seeds"])]
            worst = max(worst, *map(abs, gaps))
            print(f"  {kind:10s} {model:5s} " + " ".join(f"{g:+5.1f}" for g in gaps)
                  + f"   mean {cell['top1']:.1f} -> {other['top1']:.1f}")
    print(f"  largest per-seed change {worst:.1f} points" if compared else "  (no cell trained with the same seeds)")
    claims = {c["name"]: c for c in second.get("claims", [])}
    agree, key_agree, key_total = 0, 0, 0
    print("\nverdicts (A | B), and the seeds each would need at its spread (A, B):")
    for claim in first.get("claims", []):
        other = claims.get(claim["name"])
        same = other is not None and other["verdict"] == claim["verdict"]
        agree += same
        # the claims the issue asks to come out the same: the headline accuracy claims and the kernel claims
        if claim.get("headline") or claim.get("kind") == "kernel":
            key_total += 1
            key_agree += same
        needed = f"{claim.get('seeds_to_decide', '?')!s:>4}, {(other or {}).get('seeds_to_decide', '?')!s:>4}"
        mark = "same" if same else "DIFFERENT"
        print(f"  {mark:9s} {claim['verdict']:12s} | {other['verdict'] if other else '-':12s} {needed}  "
              f"{'*' if claim.get('headline') else ' '} {claim['name']}")
    print(f"\n{agree}/{len(first.get('claims', []))} verdicts agree; headline (*) and kernel claims: "
          f"{key_agree}/{key_total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("stages", help="render, 2D start and first steps under each setting")
    run.add_argument("--out", required=True)
    for target in (run, sub.add_parser("_stage")):
        target.add_argument("--depth", type=int, default=26)
        target.add_argument("--width", type=float, default=0.125)
        target.add_argument("--steps", type=int, default=30)
    stage = sub.choices["_stage"]
    stage.add_argument("stage", choices=sorted(STAGES))
    stage.add_argument("--out", required=True)
    stage.add_argument("--shared", required=True)
    cmp = sub.add_parser("compare", help="two finished demos: per-seed top-1 and verdicts")
    cmp.add_argument("first")
    cmp.add_argument("second")
    args = parser.parse_args()
    {"stages": stages, "_stage": _run_stage, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()
