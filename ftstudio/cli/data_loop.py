"""``ftstudio check | labels | label-next | explain``: the little-data loop, headless.

* ``check SPEC``: the data health report (imbalance, duplicates and leakage, …).
* ``labels SPEC|RUN``: likely label errors, most likely first; ``--relabel ROW=CLASS`` and
  ``--drop ROW`` with ``--out NEW.csv`` write the corrected data to a new file.
* ``label-next SPEC --pool FILE``: which unlabelled examples to label next;
  ``--label ROW=CLASS`` with ``--out NEW.csv`` appends the new labels to a copy of the data.
* ``explain RUN --text T | --image FILE``: which tokens or image regions the prediction rests
  on (``--out heat.png`` saves the image overlay).

The engine is imported inside the handlers; TensorFlow only when a backbone is needed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from ftstudio.errors import SpecError

__all__ = ["cmd_check", "cmd_explain", "cmd_label_next", "cmd_labels", "register"]


def register(subparsers: Any) -> None:
    """Add ``check``, ``labels``, ``label-next`` and ``explain`` to the main parser."""
    p = subparsers.add_parser("check", help="check the data's health before training")
    p.add_argument("spec", help="experiment spec (JSON)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_check, needs_tensorflow=False)

    p = subparsers.add_parser("labels", help="list likely label errors (a spec or a run)")
    p.add_argument("source", help="experiment spec (JSON), or a finished run folder")
    p.add_argument("--top", type=int, default=20, help="how many to list (default 20)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (spec)")
    p.add_argument("--relabel", action="append", default=[], metavar="ROW=CLASS",
                   help="give row ROW the label CLASS in the --out file (repeatable)")
    p.add_argument("--drop", action="append", default=[], type=int, metavar="ROW",
                   help="leave row ROW out of the --out file (repeatable)")
    p.add_argument("--out", help="write the corrected data here (a new CSV or image folder)")
    p.add_argument("--json", action="store_true", help="print the review as JSON")
    p.set_defaults(func=cmd_labels, needs_tensorflow=False)

    p = subparsers.add_parser("label-next", help="rank unlabelled examples: label these next")
    p.add_argument("spec", help="experiment spec (JSON) of the labelled data")
    p.add_argument("--pool", required=True,
                   help="unlabelled examples: a CSV with the input column(s), or an image folder")
    p.add_argument("-n", type=int, default=20, help="how many to propose (default 20)")
    p.add_argument("--label", action="append", default=[], metavar="ROW=CLASS",
                   help="label pool row ROW as CLASS in the --out data (repeatable)")
    p.add_argument("--out", help="write the data plus the new labels here (a new CSV/folder)")
    p.add_argument("--json", action="store_true", help="print the ranking as JSON")
    p.set_defaults(func=cmd_label_next, needs_tensorflow=False)

    p = subparsers.add_parser("explain", help="which tokens or image regions a prediction uses")
    p.add_argument("run", help="run folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text to explain")
    src.add_argument("--image", help="the image file to explain")
    p.add_argument("--out", help="save the image saliency overlay as this PNG")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")
    p.set_defaults(func=cmd_explain)


def _load_spec(path: str) -> Any:
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.load(path)
    if spec.modality != "tabular":  # a backbone will run: TensorFlow, quietly
        from ftstudio.engine.runtime import import_tensorflow_quietly

        import_tensorflow_quietly(False)
    return spec


def _pairs(items: list[str], flag: str) -> dict[int, str]:
    """``ROW=CLASS`` arguments as ``{row: class}``."""
    out = {}
    for item in items:
        row, sep, label = item.partition("=")
        if not sep or not row.strip().isdigit() or not label:
            raise SpecError(f"{flag} takes ROW=CLASS (a row number and a class), got {item!r}")
        out[int(row)] = label
    return out


def _cut(text: str, width: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[:width - 1] + "…"


def cmd_check(args: argparse.Namespace) -> int:
    """``ftstudio check SPEC``: exit code 0 when no problem was found, else 3."""
    from ftstudio.engine.data_health import check_data
    from ftstudio.spec import ExperimentSpec

    report = check_data(ExperimentSpec.load(args.spec))
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2))
        return 3 if report.problems else 0
    print(f"{report.examples:,} examples in {report.source}")
    for column, counts in report.classes.items():
        print(f"  {column}: " + ", ".join(f"{c} {k:,}" for c, k in counts.items()))
    if not report.findings:
        print("No problem found.")
    for f in report.findings:
        print(f"\n[{f.severity}] {f.title}")
        if f.meaning:
            print(f"  what it means: {f.meaning}")
        for example in f.examples:
            print(f"    {_cut(example, 96)}")
        print(f"  what to do: {f.action}")
    return 3 if report.problems else 0


def cmd_labels(args: argparse.Namespace) -> int:
    """``ftstudio labels SPEC|RUN``: the likely label errors; corrections to ``--out``."""
    from ftstudio.engine import label_errors

    source = Path(args.source)
    if source.is_dir():
        review = label_errors.review_run(source)
        spec = None
    else:
        spec = _load_spec(args.source)
        from ftstudio.cli.output import console

        review = label_errors.review_spec(spec, console(), args.folds)
    relabel, drop = _pairs(args.relabel, "--relabel"), list(args.drop)
    if (relabel or drop) and not args.out:
        raise SpecError("--relabel and --drop need --out (a new file: the original is kept)")
    if args.json:
        print(json.dumps(dataclasses.asdict(review), indent=2))
    else:
        _print_review(review, args.top)
    if args.out:
        d = spec.data if spec is not None else None
        path = label_errors.write_corrections(
            review, relabel, drop, args.out, d.encoding if d else None,
            d.delimiter if d else None)
        print(f"Corrected data written: {path} ({len(relabel)} relabelled, {len(drop)} dropped)")
    return 0


def _print_review(review: Any, top: int) -> None:
    flagged = review.flagged
    print(f"{len(flagged):,} likely label errors among {len(review.issues):,} examples "
          f"({review.method})")
    print(f"{review.row_label:>8}  {'given':<12} {'suggested':<12} {'p(given)':>8} "
          f"{'margin':>7}  input")
    for issue in review.issues[:top]:
        mark = "" if issue.flagged else " (not flagged)"
        print(f"{issue.row:>8}  {_cut(issue.given, 12):<12} {_cut(issue.suggested, 12):<12} "
              f"{issue.self_confidence:8.3f} {issue.margin:7.3f}  {_cut(issue.input)}{mark}")


def cmd_label_next(args: argparse.Namespace) -> int:
    """``ftstudio label-next SPEC --pool FILE``: the examples to label next."""
    from ftstudio.cli.output import console
    from ftstudio.engine import active_learning

    spec = _load_spec(args.spec)
    ranking = active_learning.rank_pool(spec, args.pool, args.n, console())
    labels = _pairs(args.label, "--label")
    if labels and not args.out:
        raise SpecError("--label needs --out (a new file: the original is kept)")
    if args.json:
        print(json.dumps(dataclasses.asdict(ranking), indent=2))
    else:
        print(f"Label these {len(ranking.examples)} of {ranking.pool_size:,} next "
              f"({ranking.method}):")
        for e in ranking.examples:
            print(f"{e.row:>8}  guess {_cut(e.guess, 12):<12} {e.confidence:6.1%}  "
                  f"{_cut(e.input)}")
    if args.out:
        path = active_learning.append_labels(spec, ranking, labels, args.out)
        print(f"Data with {len(labels)} new label(s) written: {path}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """``ftstudio explain RUN --text T | --image FILE``."""
    from ftstudio.engine.saliency import explain
    from ftstudio.engine.tryit import open_run

    loaded = open_run(args.run)
    result = explain(loaded, text=args.text, image=args.image)
    if args.out and result.heatmap is not None:
        _save_overlay(args.image, result.heatmap, args.out)
    if args.json:
        data = dataclasses.asdict(result)
        data["heatmap"] = None if result.heatmap is None else result.heatmap.round(3).tolist()
        print(json.dumps(data, indent=2))
        return 0
    print(f"{result.output}: {result.predicted} ({result.probability:.1%}), "
          f"{result.method}, {result.seconds:.1f} s")
    if result.tokens:
        ranked = sorted(result.tokens, key=lambda t: -t[1])
        print("  towards it:  " + "  ".join(f"{w} {s:+.3f}" for w, s in ranked[:8]))
        print("  against it:  " + "  ".join(f"{w} {s:+.3f}" for w, s in ranked[::-1][:5]))
    elif result.heatmap is not None:
        h, w = result.heatmap.shape
        parts = {"top-left": result.heatmap[:h // 2, :w // 2],
                 "top-right": result.heatmap[:h // 2, w // 2:],
                 "bottom-left": result.heatmap[h // 2:, :w // 2],
                 "bottom-right": result.heatmap[h // 2:, w // 2:]}
        total = float(result.heatmap.sum()) or 1.0
        print("  attention: " + ", ".join(f"{k} {float(v.sum()) / total:.0%}"
                                          for k, v in parts.items()))
        if args.out:
            print(f"  overlay written: {args.out}")
    return 0


def _save_overlay(image: str, heatmap: Any, out: str) -> None:
    """The image with the saliency map laid over it in red (Pillow)."""
    import numpy as np
    from PIL import Image

    with Image.open(image) as im:
        base = np.asarray(im.convert("RGB"), dtype=np.float32)
    heat = Image.fromarray((np.asarray(heatmap) * 255).astype(np.uint8)).resize(
        (base.shape[1], base.shape[0]), Image.Resampling.BILINEAR)
    alpha = np.asarray(heat, dtype=np.float32)[..., None] / 255.0 * 0.6
    red = np.zeros_like(base)
    red[..., 0] = 255.0
    Image.fromarray((base * (1 - alpha) + red * alpha).astype(np.uint8)).save(out)
