"""Numbers as people read them, shared by the CLI, the engine's messages and the window (stdlib)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_bytes", "format_duration", "format_params"]


def format_params(n: Any) -> str:
    """A parameter count in short form.

    ``22_713_216`` -> ``'22.7M'``; ``1_536`` -> ``'1.5K'``; ``12`` -> ``'12'``; a value that is
    not a whole number (unknown count) -> ``'?'``.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        return "?"
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f}B"
    if n >= 10_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def format_duration(seconds: float) -> str:
    """A duration as a clock: ``75`` -> ``'1:15'``, ``3700`` -> ``'1:01:40'``; ``'—'`` if unknown.

    A negative duration (clock skew) reads as ``'0:00'``; NaN or infinity as ``'—'``.
    """
    if not math.isfinite(seconds):
        return "—"
    whole = max(0, int(round(seconds)))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_bytes(n: float | None) -> str:
    """A size in decimal units, as file managers show it: ``24_700`` -> ``'24.7 KB'``.

    ``None`` (unknown) -> ``'—'``.
    """
    if n is None:
        return "—"
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - the loop returns at GB
