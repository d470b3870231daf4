"""``ftstudio compare RUN RUN …``: several runs side by side (metrics, histories, spec keys).

Reading run folders needs no TensorFlow, so the command starts at once.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

__all__ = ["cmd_compare", "format_comparison", "register"]


def register(subparsers: Any) -> None:
    """Add ``compare`` to the main parser's subparsers."""
    p = subparsers.add_parser(
        "compare", help="compare two or more runs: metrics, histories, differing spec keys")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (two or more)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare, needs_tensorflow=False)


def cmd_compare(args: argparse.Namespace) -> int:
    """``ftstudio compare RUN RUN … [--json]``."""
    from ftstudio.engine.compare import compare_runs

    comparison = compare_runs(args.runs)
    if args.json:
        print(json.dumps(comparison.to_json(), indent=2))
    else:
        print(format_comparison(comparison))
    return 0


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return lines


def format_comparison(comparison: Any) -> str:
    """The comparison as text: runs, metrics (best marked ``*``), histories, spec differences."""
    from ftstudio.engine.compare import cell_text, comparison_table

    runs = comparison.runs
    names = [f"[{i + 1}]" for i in range(len(runs))]
    lines = ["Runs:"]
    for name, r in zip(names, runs, strict=True):
        lack = f" (lacks {', '.join(r.missing)})" if r.missing else ""
        lines.append(f"  {name} {r.label}  {r.name}, {r.status}{lack}")
    rows = [[key] + [cell_text(v) + ("*" if i == best else "") for i, v in enumerate(values)]
            for key, values, best in comparison_table(comparison)]
    lines += ["", "Metrics (* = best):"]
    lines += ["  " + line for line in _table(["metric", *names], rows)] if rows else \
        ["  none of the runs has metrics"]
    lines += ["", "Histories:"]
    for name, r in zip(names, runs, strict=True):
        lines.append(f"  {name} {_history_line(r.history)}")
    lines += ["", "Spec keys that differ:"]
    diff_rows = [[key] + [cell_text(v) for v in values] for key, values in comparison.differences]
    lines += ["  " + line for line in _table(["key", *names], diff_rows)] if diff_rows else \
        ["  none: the runs share one spec"]
    return "\n".join(lines)


def _history_line(history: list[dict[str, float]]) -> str:
    if not history:
        return "no history"
    last = history[-1]
    shown = [f"{k} {last[k]:.4g}" for k in ("loss", "val_loss", "accuracy", "val_accuracy")
             if k in last and math.isfinite(last[k])]
    losses = [(row.get("val_loss", math.nan), i + 1) for i, row in enumerate(history)]
    finite = [pair for pair in losses if math.isfinite(pair[0])]
    best = f", best val_loss {min(finite)[0]:.4g} at epoch {min(finite)[1]}" if finite else ""
    return f"{len(history)} epochs; last: {', '.join(shown)}{best}"
