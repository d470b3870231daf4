"""``ftstudio report RUN``: the run's evaluation as one self-contained HTML file.

The report inlines its charts and thumbnails, so the file opens offline in any browser.
No TensorFlow is needed to write it.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["cmd_report", "register"]


def register(subparsers: Any) -> None:
    """Add ``report`` to the main parser's subparsers."""
    p = subparsers.add_parser("report", help="write a run's evaluation as one HTML file")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", help="the HTML file to write (default: RUN/report.html)")
    p.set_defaults(func=cmd_report, needs_tensorflow=False)


def cmd_report(args: argparse.Namespace) -> int:
    """``ftstudio report RUN [--out FILE]``."""
    from ftstudio.engine.report import write_report

    path = write_report(args.run, args.out)
    print(f"Report written: {path}")
    return 0
