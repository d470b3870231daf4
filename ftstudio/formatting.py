"""Numbers as people read them, shared by the CLI, the engine's messages and the window (stdlib)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_params"]


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
