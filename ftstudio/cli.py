"""The headless face of ftstudio: ``train | evaluate | predict | demo | models | pretrain``.

Every session in the window replays here as ``ftstudio train <run>/spec.json``. A user
error prints one line naming the problem and exits with a non-zero code; ``--debug``
adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from ftstudio import __version__
from ftstudio.errors import FtStudioError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_INTERRUPTED = 130


def _quiet_tensorflow(debug: bool) -> None:
    """Silence TensorFlow's start-up chatter unless debugging (must run before TF loads)."""
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        warnings.filterwarnings("ignore")


def _print_metrics(metrics: dict[str, float], out: Any = None) -> None:
    out = out or sys.stdout
    for key in sorted(metrics):
        if key.startswith("test."):
            out.write(f"  {key:<28} {metrics[key]:.4f}\n")


def cmd_train(args: argparse.Namespace) -> int:
    """``ftstudio train SPEC``."""
    from ftstudio.engine.reporting import ConsoleReporter
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.load(args.spec, args.set)
    from ftstudio.engine.training import train

    reporter = ConsoleReporter()
    result = train(spec, reporter, out_dir=args.out, resume=args.resume,
                   runs_root=args.runs_root)
    state = "stopped early" if result.stopped_by_user else "finished"
    print(f"Run {state}: {result.run_dir}")
    _print_metrics(result.metrics)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``ftstudio evaluate RUN``."""
    from ftstudio.engine.inference import evaluate_run
    from ftstudio.engine.reporting import ConsoleReporter

    metrics = evaluate_run(args.run, ConsoleReporter())
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True))
    else:
        print(f"Evaluation of {args.run}:")
        _print_metrics(metrics)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``ftstudio predict RUN (--text ... | --file PATH)``."""
    from ftstudio.engine.inference import predict

    results = predict(args.run, texts=args.text, file=args.file)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for row in results:
        parts = []
        for key, value in row.items():
            if key == "input":
                continue
            if "label" in value:
                parts.append(f"{value['label']} ({value['confidence']:.1%})")
            else:
                parts.append(f"{value['value']:.4g}")
        shown = str(row["input"])
        shown = shown if len(shown) <= 70 else shown[:67] + "..."
        print(f"{' | '.join(parts):<30} {shown}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``ftstudio demo``: fine-tune the bundled demo project headless, then try it."""
    from ftstudio.engine.inference import predict
    from ftstudio.engine.reporting import ConsoleReporter
    from ftstudio.engine.training import train
    from ftstudio.paths import demo_spec_path
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.load(demo_spec_path(), args.set)
    print(f"ftstudio demo: {spec.description}")
    result = train(spec, ConsoleReporter(), out_dir=args.out, runs_root=args.runs_root)
    print(f"Run folder: {result.run_dir}")
    _print_metrics(result.metrics)
    samples = ["An absolute delight from start to finish, I loved it.",
               "Broke after two days and support never answered. Avoid."]
    print("Try it:")
    for row in predict(result.run_dir, texts=samples):
        out = row[spec.head.outputs[0].name]
        print(f"  {out['label']:<9} {out['confidence']:6.1%}  {row['input']}")
    print(f"Replay it with: ftstudio train {result.run_dir / 'spec.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="ftstudio", description="Fine-tune pretrained models on your own data, offline.")
    parser.add_argument("--version", action="version", version=f"ftstudio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and TF logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="fine-tune as a spec says and write a run folder")
    p.add_argument("spec", help="experiment spec (JSON), e.g. examples/text_classification.json")
    p.add_argument("--out", help="run folder to write (default: a new one under the runs dir)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value, e.g. --set training.epochs=2 (repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (--out, or the newest of this spec)")
    p.add_argument("--runs-root", help="where new run folders go (default: FTSTUDIO_HOME/runs)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="re-evaluate a run on its test split")
    p.add_argument("run", help="run folder")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict with a trained run")
    p.add_argument("run", help="run folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", action="append", help="text to classify (repeatable)")
    src.add_argument("--file", help="text file (one per line), CSV, image or image folder")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo", help="fine-tune the bundled demo project headless")
    p.add_argument("--out", help="run folder to write")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--runs-root", help="where the run folder goes")
    p.set_defaults(func=cmd_demo)

    from ftstudio.cli_library import add_parsers

    add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    _quiet_tensorflow(args.debug)
    try:
        if getattr(args, "needs_tensorflow", True):
            from ftstudio.engine.runtime import import_tensorflow_quietly

            import_tensorflow_quietly(args.debug)
        return int(args.func(args) or 0)
    except FtStudioError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; an interrupted training continues with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - last line of defence: one clear line
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
