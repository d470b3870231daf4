"""``ftstudio export RUN --format F [--out DIR]``: exported files, each checked in a fresh process.

The engine is imported inside the handler, so ``ftstudio --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ftstudio.cli.output import console

__all__ = ["cmd_export", "register"]

EXIT_SOME_FAILED = 2
"""Exit code when a format could not be written or failed its parity check."""


def register(subparsers: Any) -> None:
    """Add ``export`` to the main parser's subparsers."""
    p = subparsers.add_parser(
        "export", help="export a run to .keras / SavedModel / TFLite / ONNX, parity-checked",
        description="Write each format into its own folder (the file, labels.json, a README "
                    "with a load-and-predict example, export_report.json), then load every "
                    "file in a fresh Python process without ftstudio and compare its "
                    "predictions on the run's test split with the studio's.")
    p.add_argument("run", help="run folder (or its spec.json)")
    p.add_argument("--format", dest="formats", action="append", required=True,
                   metavar="FORMAT", help="keras, savedmodel, tflite, onnx or all (repeatable)")
    p.add_argument("--out", help="folder for the exports (default: RUN/export)")
    p.add_argument("--quantize", action="store_true",
                   help="also write a dynamic-range int8 TFLite file and report its accuracy")
    p.add_argument("--max-examples", type=int, default=1000, metavar="N",
                   help="check on at most N examples of the test split (0: all; default 1000)")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a run; exit code 2 when any format failed (its error is printed)."""
    from ftstudio.engine.export import EXPORT_FORMATS, export_run

    formats: list[str] = []
    for value in args.formats:
        for name in value.split(","):
            name = name.strip().lower()
            formats += list(EXPORT_FORMATS) if name == "all" else [name]
    result = export_run(args.run, formats, out_dir=args.out, quantize=args.quantize,
                        reporter=console(), max_examples=args.max_examples or None)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        for line in report_lines(result):
            print(line)
    for r in result.results:
        if r.error:
            print(f"error: {r.error}", file=sys.stderr)
    return 0 if result.ok else EXIT_SOME_FAILED


def report_lines(result: Any) -> list[str]:
    """One line per exported file: size, export time, parity and the metric of each side."""
    lines = [f"Exports of {result.run_dir} in {result.out_dir}:"]
    for r in result.results:
        if r.parity is None:
            lines.append(f"  {r.key:<12} FAILED")
            continue
        p = r.parity
        metrics = "; ".join(f"{o.name} {o.metric} {o.app:.4f} -> {o.exported:.4f}"
                            for o in p.outputs)
        state = "ok" if r.ok else "FAILED"
        size = f"{(r.size_bytes or 0) / 1e6:.2f} MB"
        lines.append(f"  {r.key:<12} {state:<6} {size:>10}  {r.export_seconds:6.1f} s  "
                     f"max |diff| {p.max_abs_diff:.2g} on {p.examples} {p.split} examples  "
                     f"{metrics}")
    lines.append(f"Report: {result.report_path}")
    return lines
