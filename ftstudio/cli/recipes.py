"""``ftstudio lr-find | sweep | script``: find a learning rate, search settings, write a script.

The engine is imported inside the handlers, so ``ftstudio --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ftstudio.cli.output import console

__all__ = ["cmd_lr_find", "cmd_script", "cmd_sweep", "register"]


def register(subparsers: Any) -> None:
    """Add ``lr-find``, ``sweep`` and ``script`` to the main parser's subparsers."""
    p = subparsers.add_parser(
        "lr-find", help="sweep the learning rate on a spec's model and suggest one")
    p.add_argument("spec", help="experiment spec (JSON)")
    p.add_argument("--out", default="lr-find.csv",
                   help="where the curve goes: NAME.csv and NAME.png (default: lr-find.csv)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value (repeatable)")
    p.add_argument("--steps", type=int, help="steps of the sweep (default: 5 epochs, 50-300)")
    p.add_argument("--start", type=float, default=1e-7, help="first learning rate (1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last learning rate (10)")
    p.set_defaults(func=cmd_lr_find, needs_tensorflow=False)

    p = subparsers.add_parser("sweep", help="search training settings with Optuna (TPE)")
    p.add_argument("spec", help="experiment spec (JSON)")
    p.add_argument("--trials", type=int, required=True, help="how many trials (runs)")
    p.add_argument("--space", help="search space JSON: spec key -> {low, high[, log]} or "
                                   "{choices} (default: learning rate, batch size, dropout, "
                                   "freezing depth)")
    p.add_argument("--out", help="the sweep folder (default: a new one under the runs dir)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value of the base spec (repeatable)")
    p.add_argument("--runs-root", help="where a default sweep folder goes")
    p.set_defaults(func=cmd_sweep, needs_tensorflow=False)

    p = subparsers.add_parser(
        "script", help="write a standalone Python script (Keras only) that reproduces a run")
    p.add_argument("run", help="run folder")
    p.add_argument("-o", "--out", help="the .py file to write (default: RUN/reproduce.py)")
    p.set_defaults(func=cmd_script, needs_tensorflow=False)


def cmd_lr_find(args: argparse.Namespace) -> int:
    """``ftstudio lr-find SPEC [--out curve.csv]``."""
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.load(args.spec, args.set)
    from ftstudio.engine.lr_find import find_learning_rate, write_curve

    result = find_learning_rate(spec, console(), start_lr=args.start, end_lr=args.end,
                                steps=args.steps)
    written = write_curve(result, args.out)
    end = "the loss diverged" if result.diverged else "the sweep ended"
    print(f"Suggested learning rate: {result.suggestion:.2g}")
    print(f"  lowest loss at {result.min_loss_rate:.2g}; {len(result.learning_rates)} steps "
          f"until {end}")
    print(f"  use it with: --set training.learning_rate={result.suggestion:.2g}")
    print(f"Curve written: {', '.join(str(p) for p in written)}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``ftstudio sweep SPEC --trials N [--space sweep.json]``."""
    from ftstudio.spec import ExperimentSpec
    from ftstudio.spec.parsing import read_json_object

    spec = ExperimentSpec.load(args.spec, args.set)
    space = read_json_object(args.space, "search space") if args.space else None
    from ftstudio.engine.sweep import run_sweep

    result = run_sweep(spec, args.trials, space, console(), out_dir=args.out,
                       runs_root=args.runs_root)
    print(f"Sweep folder: {result.sweep_dir}")
    print(f"  {'trial':<6}{'state':<10}{result.monitor:>12}  settings")
    for t in result.trials:
        value = "-" if t.value is None else f"{t.value:.4g}"
        shown = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
        print(f"  {t.number:<6}{t.state:<10}{value:>12}  {shown}")
    if result.best is None:
        print("No trial completed; see results.csv for why.")
        return 0
    print(f"Best: trial {result.best.number} ({result.monitor} {result.best.value:.4g})")
    print(f"Best spec written: {result.best_spec}  (ftstudio train {result.best_spec})")
    return 0


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else json.dumps(value)


def cmd_script(args: argparse.Namespace) -> int:
    """``ftstudio script RUN [-o file.py]``."""
    from ftstudio.engine.reporting import RecordingReporter
    from ftstudio.engine.script_gen import generate_script

    notes = RecordingReporter()
    path = generate_script(args.run, args.out, reporter=notes)
    print(f"Script written: {path}")
    print(f"  run it with: python {Path(path).name} (in its folder; it needs keras, numpy, "
          f"pandas (+ keras-hub for text, Pillow for images))")
    for (text,) in notes.of("warning"):
        print(f"  note: {text}")
    return 0
