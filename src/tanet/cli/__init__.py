"""The ``tanet`` command line: one small module per command, over library functions.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int | None``; it is
imported only when its command runs, so ``tanet --help`` imports none of them. Errors become one
line on stderr, and the exit code says what happened:

* 2: a usage error, found before the work starts where possible: a flag that does not exist (no
  prefix abbreviations: ``--epoch`` is not ``--epochs``), a value that cannot work
  (:class:`tanet.errors.UsageError`: an option, recipe key or model name), or an input path named on
  the command line that does not exist (every option in :data:`INPUT_PATHS`, checked here for
  every command);
* 1: a failure while running (a bad file, checkpoint or video; :class:`tanet.errors.TanetError`
  or ``OSError``);
* 130: Ctrl-C (loader and pool workers leave it to the main process, which prints one line);
* 141: standard output was closed by its reader (``tanet models | head -3``), as for a command that
  SIGPIPE ended: nothing more is printed.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Optional

# name -> (module under tanet.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "train TANet/TSN/TSM/I3D on the built-in motion and appearance sets; write a report"),
    "models": ("models", "list the registered models"),
    "recipes": ("recipes", "list the shipped training recipes (tanet train NAME)"),
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

# Destinations of the arguments (of any command) that name an input: a file or folder that must exist
# before the command runs. A command adding such an argument uses one of these names for it.
INPUT_PATHS = frozenset({
    "checkpoint", "i3d_checkpoint", "weights_file", "init_from", "input",
    "list_file", "train_list", "val_list", "root", "videos", "runs",
    "train_annotations", "val_annotations", "labels",
    "recipe", "pretrained", "resume", "class_names",
})
# ... of which these also take a name instead of a path (a shipped recipe, `--pretrained scratch` or
# `synthetic:r18w0.25`, `--resume auto`, `--class-names kinetics400`): a value that does not look like
# a path is left to the command, which says which names it knows.
NAMES_OR_PATHS = frozenset({"recipe", "pretrained", "resume", "class_names"})

INTERRUPTED, STDOUT_CLOSED = 130, 141


class _CommandLineError(Exception):
    """What argparse would print with the usage text and ``exit(2)``; main() prints it as one line."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse without prefix abbreviations (``--epoch`` is an error, not ``--epochs``), and whose
    errors are one line and exit code 2 through :func:`main`."""

    def __init__(self, *args, **kwargs):
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise _CommandLineError(f"{message} (see `{self.prog} --help`)")

    def parse_args(self, args=None, namespace=None):
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}{self._did_you_mean(unknown)}")
        return parsed

    def _did_you_mean(self, unknown: list[str]) -> str:
        import difflib

        flags = [flag for flag, action in self._option_string_actions.items()
                 if flag.startswith("--") and action.help is not argparse.SUPPRESS]
        for item in unknown:
            if item.startswith("--"):
                close = difflib.get_close_matches(item.split("=", 1)[0], flags, n=1)
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


def _version() -> str:
    from tanet import __version__

    return __version__


def _top_level_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="tanet", description="TAM / TANet for video action recognition.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def command_parser(name: str):
    """The parser of one command and its module."""
    module = importlib.import_module(f"tanet.cli.{COMMANDS[name][0]}")
    parser = ArgumentParser(prog=f"tanet {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    return parser, module


def _looks_like_a_name(value: str) -> bool:
    """``scratch``, ``auto``, ``demo``, ``synthetic:r18w0.25``: no folder part, and no file suffix
    unless it has a ``name:option`` form."""
    from pathlib import PurePath

    path = PurePath(value)
    return len(path.parts) == 1 and (not path.suffix or ":" in value)


def check_input_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every input path of :data:`INPUT_PATHS` given to this command exists (else a usage error
    naming the flag and the path). Glob patterns (``predict 'clips/*.mp4'``) are left to the command."""
    from glob import has_magic

    from ._options import require_existing

    for action in parser._actions:
        if action.dest not in INPUT_PATHS:
            continue
        values = getattr(args, action.dest, None)
        if values is None or values == action.default:
            continue
        pending = list(values) if isinstance(values, (list, tuple)) else [values]
        flag = next((o for o in action.option_strings if o.startswith("--")), None) \
            or (action.metavar or action.dest).lower()
        while pending:
            value = pending.pop(0)
            if isinstance(value, (list, tuple)):  # action="append" with nargs
                pending[:0] = list(value)
                continue
            if value is None or has_magic(str(value)):
                continue
            if action.dest in NAMES_OR_PATHS and _looks_like_a_name(str(value)):
                continue
            require_existing(value, flag)


def _stdout_closed() -> bool:
    """Whether standard output is a pipe that its reader has closed (``| head``)."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(mask & select.POLLERR for _, mask in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no poll (Windows), or no real stdout: assume so
        return True


def _silence_stdout() -> int:
    """Point standard output at /dev/null, so that the interpreter's final flush stays quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        pass
    return STDOUT_CLOSED


class _KeepCtrlC:
    """While :func:`main` runs, an unraisable-exception hook that does not lose Ctrl-C: a KeyboardInterrupt
    raised where Python can only print it (an at-fork hook while a worker starts, a finaliser) is raised
    again in the main thread, where main() turns it into one line and exit code 130.

    Once main() has caught the interrupt (``interrupted``), what the interrupt left half-built fails in its
    finaliser as it is freed (a DataLoader iterator interrupted while starting its workers has no
    ``_workers_status`` for its ``__del__``): the user asked to stop, so those are not printed."""

    def __init__(self):
        self.previous = sys.unraisablehook
        self.active = True
        self.interrupted = False
        sys.unraisablehook = self.hook

    def hook(self, unraisable) -> None:
        if self.interrupted:
            return
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.previous(unraisable)
            return
        import threading

        # from another thread, shortly: interrupting the main thread from here would raise in this hook
        timer = threading.Timer(0.05, self._interrupt)
        timer.daemon = True
        timer.start()

    def _interrupt(self) -> None:
        import _thread

        if self.active:
            _thread.interrupt_main()

    def close(self) -> None:
        self.active = False
        if self.interrupted:
            import gc

            gc.collect()  # free what the interrupt left in reference cycles while this hook still quiets it
        sys.unraisablehook = self.previous


def _print_error(prefix: str, error: BaseException) -> None:
    """``tanet CMD: error: MESSAGE`` on one line (a message of several lines joined with '; ')."""
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    print(f"{prefix}: error: {message}", file=sys.stderr)


def main(argv: Optional[list[str]] = None) -> int:
    from tanet.errors import TanetError, UsageError

    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    prefix = f"tanet {command}" if command in COMMANDS else "tanet"
    keep_ctrl_c = _KeepCtrlC()
    format_warning = warnings.formatwarning
    try:
        if command not in COMMANDS:
            # top-level help, --version or an unknown command: no command module is imported
            _top_level_parser().parse_args(argv or ["--help"])
            return 2
        parser, module = command_parser(command)
        args = parser.parse_args(argv[argv.index(command) + 1:])
        check_input_paths(parser, args)
        _one_line_warnings(command)
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe can still be answered quietly
        return code
    except KeyboardInterrupt:
        keep_ctrl_c.interrupted = True
        print(f"{prefix}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError as error:
        if _stdout_closed():
            return _silence_stdout()
        _print_error(prefix, error)
        return 1
    except (_CommandLineError, UsageError) as error:
        _print_error(prefix, error)
        return 2
    except (TanetError, OSError) as error:
        _print_error(prefix, error)
        return 1
    finally:
        keep_ctrl_c.close()
        warnings.formatwarning = format_warning


def _one_line_warnings(command: str) -> None:
    """Warnings (a skipped video, objects not loaded from a checkpoint) as one line, like errors."""
    warnings.formatwarning = lambda message, category, *_: f"tanet {command}: warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
