"""Entry point of ``ftstudio`` and ``python -m ftstudio`` (and the PyInstaller bundle).

With no command (or ``--project FILE``) it opens the window; ``--self-test`` checks that this
installation fine-tunes, exports and opens the window (:mod:`ftstudio.selftest`); with a command
it runs the headless CLI. None of these paths imports TensorFlow before it is needed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ftstudio import cli

GUI_FLAGS = ("--project",)
SELF_TEST_FLAG = "--self-test"


def ensure_std_streams() -> None:
    """Give a process started without stdin/stdout/stderr streams that lead nowhere.

    A Windows GUI build, or a program started with its descriptors closed, gets ``None`` for
    ``sys.stdout`` / ``sys.stderr``: every ``print``, log line and Keras progress bar would
    raise. The missing descriptors 0-2 are opened on the null device first, so that a file
    opened later never becomes "standard error" for TensorFlow's C++ logging.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the window, the self-test or the CLI."""
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen app's training child process starts here
    ensure_std_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == SELF_TEST_FLAG:
        from ftstudio.selftest import main as self_test

        return self_test(args[1:])
    if not args or args[0] in GUI_FLAGS:
        project = args[1] if len(args) > 1 else None
        from ftstudio.ui.app import run_app

        return run_app(project=project)
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
