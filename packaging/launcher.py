"""The bundle's entry point: ``ftstudio`` with the same arguments as the installed command.

A frozen app has no Python interpreter, so whatever starts ``sys.executable`` as one gets the
bundle's executable instead:

* ``multiprocessing`` (the window's training child on Windows and in the bundle) starts it
  with ``--multiprocessing-fork``: :func:`multiprocessing.freeze_support` runs the child.
* the export check starts ``sys.executable -I -B export_check.py MANIFEST`` (a script run by
  path so that it imports nothing of ftstudio): :func:`script_request` recognises that and the
  script runs here, before anything of ftstudio is imported.

Everything else goes to ``ftstudio.__main__.main``.
"""

from __future__ import annotations

import multiprocessing
import runpy
import sys

INTERPRETER_FLAGS = frozenset({"-I", "-B", "-E", "-s", "-S", "-u", "-O", "-OO", "-P"})
"""Python options that may stand before a script path (they mean nothing to the bundle)."""


def script_request(argv: list[str]) -> list[str] | None:
    """The script and its arguments when ``argv`` asks a Python interpreter to run a script.

    Only ``PROGRAM FLAG... SCRIPT.py ARG...`` with at least one interpreter flag counts, so no
    ftstudio command line is ever taken for one.

    Returns:
        ``[script, *args]`` (the script's ``sys.argv``), or None.
    """
    i = 1
    while i < len(argv) and argv[i] in INTERPRETER_FLAGS:
        i += 1
    if i == 1 or i >= len(argv) or not argv[i].endswith(".py"):
        return None
    return argv[i:]


def main() -> int:
    """Run a multiprocessing child, a requested script, or ftstudio."""
    multiprocessing.freeze_support()
    request = script_request(sys.argv) if getattr(sys, "frozen", False) else None
    if request is not None:
        sys.argv = request
        runpy.run_path(request[0], run_name="__main__")
        return 0
    from ftstudio.__main__ import main as ftstudio_main

    return ftstudio_main()


if __name__ == "__main__":
    sys.exit(main())
