"""The headless face of ftstudio: ``train | evaluate | predict | demo | models | pretrain``.

Every session in the window replays here as ``ftstudio train <run>/spec.json``. A user
error prints one line naming the problem and exits with code 2; ``--debug`` (or
``FTSTUDIO_DEBUG``) adds the traceback with its cause chain and TensorFlow's own log lines.

One module per command group (:mod:`~ftstudio.cli.train`, :mod:`~ftstudio.cli.models`,
:mod:`~ftstudio.cli.pretrain`); each has ``register(subparsers)`` and imports the engine
inside its handlers, so importing this package (and ``ftstudio --help``) stays cheap.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from ftstudio import __version__, config
from ftstudio.cli import compare, data_loop, export, models, pretrain, recipes, report, train
from ftstudio.errors import FtStudioError

__all__ = ["EXIT_INTERNAL_ERROR", "EXIT_INTERRUPTED", "EXIT_USER_ERROR", "build_parser", "main"]

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_INTERRUPTED = 130

_COMMAND_GROUPS = (train, models, pretrain, export, compare, report, data_loop, recipes)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ftstudio", description="Fine-tune pretrained models on your own data, offline.")
    parser.add_argument("--version", action="version", version=f"ftstudio {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks (with their causes) and TF logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    debug = bool(args.debug) or config.debug_enabled()
    if not debug:
        _quiet_tensorflow()
    try:
        if getattr(args, "needs_tensorflow", True):
            from ftstudio.engine.runtime import import_tensorflow_quietly

            import_tensorflow_quietly(debug)
        return int(args.func(args) or 0)
    except FtStudioError as exc:
        _report(f"error: {exc}", debug)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; an interrupted training continues with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - last line of defence: one clear line
        _report(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
                debug)
        return EXIT_INTERNAL_ERROR


def _quiet_tensorflow() -> None:
    """Silence TensorFlow's start-up chatter and Python warnings (before TF loads)."""
    config.quiet_tensorflow_logs("3")
    warnings.filterwarnings("ignore")


def _report(line: str, debug: bool) -> None:
    """Print the error's one line, after the traceback and its cause chain when debugging.

    Called inside an ``except`` block: ``traceback.print_exc`` prints the exception being
    handled together with every ``raise ... from`` cause before it.
    """
    if debug:
        traceback.print_exc()
    print(line, file=sys.stderr)
