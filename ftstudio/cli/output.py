"""What the command groups print in common: metrics, shapes, the library hint, the console.

Standard library at import time; the engine's console reporter is imported when asked for.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["console", "library_backbone", "print_metrics", "shape_text"]


def console() -> Any:
    """A :class:`~ftstudio.engine.reporting.ConsoleReporter` on stderr (bar on a terminal)."""
    from ftstudio.engine.reporting import ConsoleReporter

    return ConsoleReporter()


def print_metrics(metrics: dict[str, float], out: TextIO | None = None) -> None:
    """Print the ``test.*`` metrics, one aligned line each, sorted by name."""
    out = out or sys.stdout
    for key in sorted(metrics):
        if key.startswith("test."):
            out.write(f"  {key:<28} {metrics[key]:.4f}\n")


def shape_text(shape: Sequence[Any]) -> str:
    """An input shape as ``8x8x3`` (``?`` for a free size, ``-`` for no shape)."""
    return "x".join("?" if s is None else str(s) for s in shape) or "-"


def library_backbone(name: str) -> str:
    """The spec snippet that fine-tunes on library entry ``name``."""
    return f'"backbone": {json.dumps({"source": "library", "name": name})}'
