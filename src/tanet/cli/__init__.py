"""The ``tanet`` command line.

Each sub-command lives next to the code it drives, in a module that defines
``add_arguments(parser)`` and ``run(args) -> int | None``. Modules are imported only
when their command runs, so ``tanet --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("tanet.demo", "train TANet/TSN/TSM/I3D on the built-in motion and appearance sets; write a report"),
    "flops": ("tanet.analysis.flops", "count parameters and GFLOPs (multiply-adds) of a model"),
    "models": ("tanet.models.registry", "list the registered models"),
    "synth": ("tanet.data.synthetic", "generate the built-in synthetic motion / appearance video sets"),
    "prepare": ("tanet.data.prepare", "build list files from Kinetics/Something-Something annotations or a folder; extract frames"),
    "check-videos": ("tanet.data.check_videos", "find unreadable videos in a list file; write a cleaned list"),
    "train": ("tanet.engine.commands.train", "train a model from a YAML recipe (one CPU or many GPUs)"),
    "test": ("tanet.engine.commands.test", "evaluate a checkpoint: top-1/top-5/mean class accuracy"),
    "predict": ("tanet.engine.commands.predict", "top-k class names for video files"),
    "convert": ("tanet.interop.convert", "convert an official-TAM or MMAction2 checkpoint to a tanet checkpoint"),
    "export": ("tanet.interop.export", "export a model to ONNX or a torch.export program"),
    "kernels": ("tanet.cli.kernels", "plot and compare learned TAM kernels (V, Θ) with I3D's, per block and data set"),
    "ablate": ("tanet.analysis.ablate", "train and test a grid of TAM variants; write a markdown/CSV table"),
}


def build_parser(load_all: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tanet", description="TAM / TANet for video action recognition."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if load_all:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def _version() -> str:
    from tanet import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        # Top-level help or an unknown command: no need to import any command module.
        build_parser(load_all=False).parse_args(argv or ["--help"])
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"tanet {command}", description=COMMANDS[command][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[argv.index(command) + 1 :])
    try:
        code = module.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
