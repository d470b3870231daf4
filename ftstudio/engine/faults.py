"""Fault injection for tests: kill or fail a run at a named point or at its N-th file write.

A run is only trustworthy if every way it can die leaves a folder that resumes or says why
not (SQLite earns its trust the same way: a crash and an I/O error at every write). Tests set
``FTSTUDIO_FAULT`` (read through :func:`ftstudio.config.fault_injection`) to
``<point>[#<n>]=<action>``:

``point``
    a phase of a run (:data:`PHASE_POINTS`: ``before-data``, ``mid-epoch``,
    ``between-epochs``, ``evaluating``, ``saving``, ``export``), ``write`` (any file
    write) or ``write:<file name>`` (a write of that file, e.g. ``write:model.keras``).
``n``
    which occurrence of the point fails (default 1: the first).
``action``
    ``kill`` (SIGKILL: the process dies on the spot, like a crash or a power cut),
    ``crash`` (raise :class:`~ftstudio.errors.InjectedCrash`, a kill simulated inside the
    test process: no handler records it), ``enospc`` / ``eio`` (the ``OSError`` a full or
    failing disk gives).

A file write fails after its temporary file is written and before it is moved into place,
which is where a real crash or a full disk hurts most. Without the variable every call here
is a dictionary increment. Standard library only.
"""

from __future__ import annotations

import errno
import os
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ftstudio import config
from ftstudio.errors import InjectedCrash

__all__ = ["ACTIONS", "PHASE_POINTS", "Fault", "file_write", "parse_fault", "point", "reset",
           "written_files", "writes_so_far"]

PHASE_POINTS = ("before-data", "built", "mid-epoch", "between-epochs", "evaluating",
                "saving", "export")
"""The named points of a run, in the order a run reaches them."""

ACTIONS = ("kill", "crash", "enospc", "eio")
"""What an injected fault does."""

_counts: Counter[str] = Counter()
_written: list[str] = []


@dataclass(frozen=True)
class Fault:
    """One parsed ``FTSTUDIO_FAULT``: fail the ``occurrence``-th ``where`` with ``action``."""

    where: str
    occurrence: int
    action: str


def parse_fault(text: str) -> Fault:
    """Parse ``<point>[#<n>]=<action>``.

    Raises:
        ValueError: the text does not follow the grammar (a test's mistake: say it loudly).
    """
    where, sep, action = text.partition("=")
    where, _, count = where.strip().partition("#")
    action = action.strip()
    known = where in PHASE_POINTS or where == "write" or where.startswith("write:")
    if not sep or not known or action not in ACTIONS or (count and not count.isdigit()):
        raise ValueError(f"FTSTUDIO_FAULT={text!r}: expected <point>[#<n>]=<action> with "
                         f"point in {', '.join(PHASE_POINTS)}, write or write:<file> and "
                         f"action in {', '.join(ACTIONS)}")
    return Fault(where, int(count or 1), action)


def reset() -> None:
    """Start counting points and writes afresh (a run calls this when it starts)."""
    _counts.clear()
    _written.clear()


def writes_so_far() -> int:
    """How many file writes were counted since :func:`reset`."""
    return _counts["write"]


def written_files() -> list[str]:
    """The names of the files written since :func:`reset`, in order (write N is item N-1)."""
    return list(_written)


def point(name: str) -> None:
    """Mark that a run reached the phase point ``name``; fail here if the fault says so."""
    _counts[name] += 1
    _maybe_fail((name,), Path(name))


def file_write(path: Path) -> None:
    """Mark one file write (its temp file is complete, not yet moved into place)."""
    _counts["write"] += 1
    _counts[f"write:{path.name}"] += 1
    _written.append(path.name)
    _maybe_fail(("write", f"write:{path.name}"), path)


def _maybe_fail(keys: tuple[str, ...], path: Path) -> None:
    text = config.fault_injection()
    if not text:
        return
    fault = parse_fault(text)
    if fault.where in keys and _counts[fault.where] == fault.occurrence:
        _act(fault, path)


def _act(fault: Fault, path: Path) -> None:
    if fault.action == "kill":
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # pragma: no cover - platforms without SIGKILL
    if fault.action == "crash":
        raise InjectedCrash(f"injected crash at {fault.where} #{fault.occurrence}")
    code = errno.ENOSPC if fault.action == "enospc" else errno.EIO
    raise OSError(code, os.strerror(code), str(path))
