"""Entry point of ``ftstudio`` and ``python -m ftstudio`` (and the PyInstaller bundle).

With no command (or ``--project FILE``) it opens the window; with a command it runs the
headless CLI. Neither path imports TensorFlow before it is needed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ftstudio import cli

GUI_FLAGS = ("--project",)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the window or to the CLI."""
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen app's training child process starts here
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in GUI_FLAGS:
        project = args[1] if len(args) > 1 else None
        from ftstudio.ui.app import run_app

        return run_app(project=project)
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
