"""``ftstudio train | extend | evaluate | predict | demo``: fine-tune from a spec and use the run.

The engine is imported inside the handlers, so ``ftstudio --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ftstudio.cli.output import console, print_metrics

__all__ = ["cmd_demo", "cmd_evaluate", "cmd_extend", "cmd_predict", "cmd_train", "register"]

_DEMO_SAMPLES = ("An absolute delight from start to finish, I loved it.",
                 "Broke after two days and support never answered. Avoid.")


def register(subparsers: Any) -> None:
    """Add ``train``, ``evaluate``, ``predict`` and ``demo`` to the main parser's subparsers."""
    p = subparsers.add_parser("train", help="fine-tune as a spec says and write a run folder")
    p.add_argument("spec", help="experiment spec (JSON), e.g. examples/text_classification.json")
    p.add_argument("--out", help="run folder to write (default: a new one under the runs dir)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value, e.g. --set training.epochs=2 (repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (--out, or the newest of this spec)")
    p.add_argument("--runs-root", help="where new run folders go (default: FTSTUDIO_HOME/runs)")
    # TensorFlow loads inside train(), after the spec and the data are checked: a mistake
    # in either is reported in a second, not after TensorFlow's 10 s start.
    p.set_defaults(func=cmd_train, needs_tensorflow=False)

    p = subparsers.add_parser("extend", help="train a finished run N more epochs, in place")
    p.add_argument("run", help="the run folder (finished, or stopped with Stop)")
    p.add_argument("epochs", type=int, help="how many epochs to add")
    p.set_defaults(func=cmd_extend)

    p = subparsers.add_parser("evaluate", help="re-evaluate a run on its test split")
    p.add_argument("run", help="run folder")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("predict", help="predict with a trained run")
    p.add_argument("run", help="run folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", action="append", help="text to classify (repeatable)")
    src.add_argument("--file", help="text file (one per line), CSV, image or image folder")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=cmd_predict)

    p = subparsers.add_parser("demo", help="fine-tune the bundled demo project headless")
    p.add_argument("--out", help="run folder to write")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--runs-root", help="where the run folder goes")
    p.set_defaults(func=cmd_demo)


def cmd_train(args: argparse.Namespace) -> int:
    """``ftstudio train SPEC``."""
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.load(args.spec, args.set)  # a bad spec fails before the engine loads
    if args.debug:  # with TensorFlow's own start-up lines, as --debug promises
        from ftstudio.engine.runtime import import_tensorflow_quietly

        import_tensorflow_quietly(debug=True)
    from ftstudio.engine.training import train

    result = train(spec, console(), out_dir=args.out, resume=args.resume,
                   runs_root=args.runs_root)
    state = "stopped early" if result.stopped_by_user else "finished"
    print(f"Run {state}: {result.run_dir}")
    print_metrics(result.metrics)
    return 0


def cmd_extend(args: argparse.Namespace) -> int:
    """``ftstudio extend RUN EPOCHS``: continue from the run's last epoch (weights, optimizer)."""
    from ftstudio.engine.extend import extend_run

    result = extend_run(args.run, args.epochs, console())
    state = "stopped early" if result.stopped_by_user else "extended"
    print(f"Run {state}: {result.run_dir} ({len(result.history)} epochs in all)")
    print_metrics(result.metrics)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``ftstudio evaluate RUN``."""
    from ftstudio.engine.inference import evaluate_run

    metrics = evaluate_run(args.run, console())
    if args.json:
        print(json.dumps(metrics, indent=2, sort_keys=True))
    else:
        print(f"Evaluation of {args.run}:")
        print_metrics(metrics)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """``ftstudio predict RUN (--text ... | --file PATH)``."""
    from ftstudio.engine.inference import predict

    results = predict(args.run, texts=args.text, file=args.file)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for row in results:
        print(_prediction_line(row))
    return 0


def _prediction_line(row: dict[str, Any]) -> str:
    """One prediction as ``label (confidence) | value   input`` (input cut at 70 characters)."""
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
    return f"{' | '.join(parts):<30} {shown}"


def cmd_demo(args: argparse.Namespace) -> int:
    """``ftstudio demo``: fine-tune the bundled demo project headless, then try it."""
    from ftstudio.engine.inference import predict
    from ftstudio.engine.training import train
    from ftstudio.paths import demo_spec_path
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.load(demo_spec_path(), args.set)
    print(f"ftstudio demo: {spec.description}")
    result = train(spec, console(), out_dir=args.out, runs_root=args.runs_root)
    print(f"Run folder: {result.run_dir}")
    print_metrics(result.metrics)
    print("Try it:")
    for row in predict(result.run_dir, texts=list(_DEMO_SAMPLES)):
        out = row[spec.head.outputs[0].name]
        print(f"  {out['label']:<9} {out['confidence']:6.1%}  {row['input']}")
    print(f"Replay it with: ftstudio train {result.run_dir / 'spec.json'}")
    return 0
