"""The ``tanet`` command line: one small module per command, over library functions.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int | None``; it is
imported only when its command runs, so ``tanet --help`` imports none of them. Errors become one
line on stderr: exit code 2 for a usage error (:class:`tanet.errors.UsageError`: an option, recipe
key or value that cannot work), 1 for a failure while running (a bad file, checkpoint or video,
:class:`tanet.errors.TanetError` or ``OSError``), 130 for Ctrl-C.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under tanet.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "train TANet/TSN/TSM/I3D on the built-in motion and appearance sets; write a report"),
    "models": ("models", "list the registered models"),
    "flops": ("flops", "count parameters and GFLOPs (multiply-adds) of a model"),
    "synth": ("synth", "generate the built-in synthetic motion / appearance video sets"),
    "prepare": ("prepare", "build list files from Kinetics/Something-Something annotations or a folder; extract frames"),
    "check-videos": ("check_videos", "find unreadable videos in a list file; write a cleaned list"),
    "train": ("train", "train a model from a YAML recipe (one CPU or many GPUs)"),
    "pretrain-2d": ("pretrain_2d", "train (once, cached) the 2D ResNet on built-in still images that stands in "
                                   "for ImageNet weights (--pretrained synthetic)"),
    "test": ("test", "evaluate a checkpoint: top-1/top-5/mean class accuracy"),
    "plot": ("plot", "plot loss, top-1 and learning rate per epoch of one or more training runs"),
    "predict": ("predict", "top-k class names for video files"),
    "weights": ("weights", "list the published checkpoints; where a file must be to use one by name"),
    "convert": ("convert", "convert an official-TAM or MMAction2 checkpoint to a tanet checkpoint"),
    "export": ("export", "export a model to ONNX or a torch.export program"),
    "kernels": ("kernels", "plot and compare learned TAM kernels (V, Θ) with I3D's, per block and data set"),
    "ablate": ("ablate", "train and test a grid of TAM variants; write a markdown/CSV table"),
}


def _version() -> str:
    from tanet import __version__

    return __version__


def _top_level_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tanet", description="TAM / TANet for video action recognition.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def command_parser(name: str):
    """The parser of one command and its module."""
    module = importlib.import_module(f"tanet.cli.{COMMANDS[name][0]}")
    parser = argparse.ArgumentParser(prog=f"tanet {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    return parser, module


def _one_line_warnings(command: str) -> None:
    """Warnings (a skipped video, objects not loaded from a checkpoint) as one line, like errors."""
    import warnings

    warnings.formatwarning = lambda message, category, *_: f"tanet {command}: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    from tanet.errors import TanetError, UsageError

    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        # top-level help, --version or an unknown command: no command module is imported
        _top_level_parser().parse_args(argv or ["--help"])
        return 2
    parser, module = command_parser(command)
    args = parser.parse_args(argv[argv.index(command) + 1:])
    _one_line_warnings(command)
    try:
        code = module.run(args)
    except KeyboardInterrupt:
        print(f"tanet {command}: interrupted", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"tanet {command}: error: {error}", file=sys.stderr)
        return 2
    except (TanetError, OSError) as error:
        print(f"tanet {command}: error: {error}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
