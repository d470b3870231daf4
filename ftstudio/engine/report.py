"""A run's evaluation as one self-contained HTML file that opens offline in any browser.

:func:`write_report` reads a run folder (``metrics.json``, ``evaluation.json``,
``predictions.csv``, ``history.csv``, ``baseline.json``, ``spec.json``, ``env.json``) and
writes ``report.html``: the metrics, before vs after (the linear-probe baseline), the per-class
table, the confusion matrix, the ROC / precision-recall / reliability curves (or, for
regression, predicted vs true and the residuals), the training history, the worst examples
(with thumbnails for images), the spec and the environment. Charts and thumbnails are PNG
images inlined as base64; there is no script and nothing is fetched. A run folder that lacks
files gives a report of what it has, saying what is missing.

No TensorFlow: the standard library, numpy and Pillow (charts, thumbnails).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.engine.compare import missing_files
from ftstudio.engine.data import IMAGE_EXTENSIONS
from ftstudio.engine.examples import parse_examples, to_float
from ftstudio.engine.report_charts import Series, heatmap_png, line_chart_png, scatter_png
from ftstudio.engine.runs import RunFolder, atomic_write_text
from ftstudio.errors import RunError
from ftstudio.formatting import format_duration

__all__ = ["REPORT_FILE", "SECTIONS", "write_report"]

REPORT_FILE = "report.html"
"""The report's file name inside the run folder."""

SECTIONS = ("summary", "baseline", "per-class", "confusion", "curves", "history", "examples",
            "spec", "environment")
"""The ``id`` of every section of a report, in order (each is present, maybe saying "none")."""

WORST_EXAMPLES = 20

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#202124;
max-width:1100px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid
#e0e0e0;padding-bottom:4px}h3{font-size:15px}.muted{color:#5f6368}.note{background:#fef7e0;
padding:8px 12px;border-radius:6px}.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #dadce0;border-radius:8px;padding:8px 14px;min-width:120px}
.card b{font-size:22px;display:block}table{border-collapse:collapse;margin:8px 0}
td,th{border-bottom:1px solid #e8eaed;padding:4px 10px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.weak td{background:#fdecea}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts img{width:520px;max-width:100%;
border:1px solid #eee}pre{background:#f8f9fa;padding:10px;overflow:auto;font-size:12px}
td.text{max-width:560px}
td.text img{width:72px;image-rendering:pixelated;border:1px solid #eee}
.good{color:#188038}.bad{color:#c5221f}
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the run's HTML report and return its path.

    Args:
        run_dir: the run folder (or its ``spec.json``).
        out: the file to write (default ``<run>/report.html``).

    Raises:
        RunError: not a run folder, or the report cannot be written there.
    """
    run = RunFolder.open(run_dir)
    target = Path(out) if out else run.file(REPORT_FILE)
    page = _Page(run)
    try:
        atomic_write_text(target, page.render())
    except OSError as exc:
        raise RunError(f"cannot write the report to {target}: {exc.strerror or exc}") from exc
    return target


def _png(data: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(data).decode("ascii")}">')


def _num(value: Any, percent: bool = False) -> str:
    if not isinstance(value, (int, float)) or (isinstance(value, float) and
                                                not math.isfinite(value)):
        return "—"
    if isinstance(value, int) and not percent:
        return f"{value:,}"
    return f"{100 * value:.1f}%" if percent else f"{value:.4f}"


class _Page:
    """The report of one run folder, built section by section."""

    def __init__(self, run: RunFolder) -> None:
        self.run = run
        self.spec: dict[str, Any] = run.read_json("spec.json", {})
        self.status: dict[str, Any] = run.read_json("status.json", {})
        self.metrics = run.metrics()
        self.evaluation: dict[str, Any] = run.read_json("evaluation.json", {})
        self.baseline: dict[str, Any] = run.read_json("baseline.json", {})
        self.env: dict[str, Any] = run.read_json("env.json", {})
        self.history = run.history()
        self.missing = missing_files(run.path)
        self.split = "test" if "test" in self.evaluation.get("splits", {}) else "val"
        self.reports: dict[str, Any] = (self.evaluation.get("splits", {})
                                        .get(self.split, {}).get("outputs", {}))

    def render(self) -> str:
        name = html.escape(str(self.spec.get("name") or self.run.path.name))
        body = [self._summary(), self._baseline(), self._per_class(), self._confusion(),
                self._curves(), self._history(), self._examples(), self._spec(),
                self._environment()]
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>ftstudio report: {name}</title><style>{_STYLE}</style></head>"
                f"<body>\n{''.join(body)}\n</body></html>\n")

    @staticmethod
    def _section(key: str, title: str, content: str) -> str:
        return f'<section id="{key}"><h2>{html.escape(title)}</h2>\n{content}</section>\n'

    # ------------------------------------------------------------ sections
    def _summary(self) -> str:
        name = html.escape(str(self.spec.get("name") or self.run.path.name))
        status = html.escape(str(self.status.get("status", "unknown")))
        wall = self.env.get("wall_seconds")
        took = f" · took {format_duration(float(wall))}" if isinstance(wall, (int, float)) else ""
        head = (f"<h1>{name}</h1><p class=\"muted\">{status}{took} · "
                f"{html.escape(str(self.run.path))}</p>")
        if self.status.get("message"):
            head += f"<p class=\"note\">{html.escape(str(self.status['message']))}</p>"
        if self.missing:
            head += ("<p class=\"note\">This run folder lacks "
                     f"{html.escape(', '.join(self.missing))}; the report shows what it has.</p>")
        cards = [f'<div class="card"><b>{_num(v, k.endswith("accuracy"))}</b>'
                 f'{html.escape(k)}</div>' for k, v in sorted(self.metrics.items())
                 if k.startswith(f"{self.split}.")]
        content = (f'<div class="cards">{"".join(cards)}</div>' if cards
                   else "<p>No metrics: the run did not reach its evaluation.</p>")
        return head + self._section("summary", f"Metrics ({self.split} split)", content)

    def _baseline(self) -> str:
        rows = []
        for key in sorted(self.metrics):
            if not key.startswith(f"baseline.{self.split}."):
                continue
            tuned_key = key.removeprefix("baseline.")
            before, after = self.metrics[key], self.metrics.get(tuned_key)
            if after is None:
                continue
            percent = key.endswith(("accuracy", "f1", "precision", "recall"))
            gain = ""
            if math.isfinite(before) and math.isfinite(after):
                better = after >= before if key.rsplit(".", 1)[-1] not in ("mae", "rmse") \
                    else after <= before
                text = f"{100 * (after - before):+.1f} points" if percent else \
                    f"{after - before:+.4g}"
                gain = f'<span class="{"good" if better else "bad"}">{text}</span>'
            rows.append(f"<tr><td>{html.escape(tuned_key)}</td><td class=\"n\">"
                        f"{_num(before, percent)}</td><td class=\"n\">{_num(after, percent)}"
                        f"</td><td class=\"n\">{gain}</td></tr>")
        if not rows:
            why = self.baseline.get("error") or ("turned off (training.baseline: false)"
                                                 if self.spec.get("training", {})
                                                 .get("baseline") is False else "not recorded")
            content = f"<p>No baseline: {html.escape(str(why))}.</p>"
        else:
            what = html.escape(str(self.baseline.get("features", "the pretrained features")))
            content = (f"<p>A linear probe on {what} (same split and seed), next to the "
                       "fine-tuned model.</p><table><tr><th>metric</th><th class=\"n\">"
                       "linear probe</th><th class=\"n\">fine-tuned</th><th class=\"n\">"
                       f"added</th></tr>{''.join(rows)}</table>")
        return self._section("baseline", "Before vs after fine-tuning", content)

    def _per_class(self) -> str:
        parts = []
        for out, rep in self.reports.items():
            title = f"<h3>{html.escape(out)}</h3>" if len(self.reports) > 1 else ""
            if rep.get("task") == "regression":
                rows = "".join(f"<tr><td>{n}</td><td class=\"n\">{_num(rep.get(k))}</td></tr>"
                               for n, k in (("Examples", "n"), ("Mean absolute error", "mae"),
                                            ("Root mean squared error", "rmse"), ("R²", "r2")))
                parts.append(f"{title}<table>{rows}</table>")
                continue
            per = rep.get("per_class", [])
            f1s = [r.get("f1") for r in per]
            # as on the Evaluate page: one weakest class of three or more, none when all tie
            weakest = min(f1s) if len(f1s) > 2 and len(set(f1s)) > 1 else None
            rows = "".join(
                f"<tr{' class=weak' if r.get('f1') == weakest else ''}><td>"
                f"{html.escape(str(r.get('class')))}</td>" + "".join(
                    f"<td class=\"n\">{_num(r.get(k))}</td>"
                    for k in ("precision", "recall", "f1", "support")) + "</tr>" for r in per)
            parts.append(f"{title}<table><tr><th>class</th><th class=\"n\">precision</th>"
                         "<th class=\"n\">recall</th><th class=\"n\">F1</th><th class=\"n\">"
                         f"count</th></tr>{rows}</table>")
        content = "".join(parts) or "<p>No evaluation in this run folder.</p>"
        return self._section("per-class", "Per class", content)

    def _confusion(self) -> str:
        images = [_png(heatmap_png(rep.get("confusion", []), rep.get("classes", []),
                                   f"Confusion matrix: {out}"), f"confusion matrix of {out}")
                  for out, rep in self.reports.items() if rep.get("task") == "classification"]
        content = (f'<div class="charts">{"".join(images)}</div>' if images
                   else "<p>No confusion matrix (no classification output evaluated).</p>")
        return self._section("confusion", "Confusion matrix", content)

    def _curves(self) -> str:
        images: list[str] = []
        for out, rep in self.reports.items():
            if rep.get("task") == "regression":
                images += _regression_charts(out, rep)
            else:
                images += _classification_charts(out, rep)
        content = (f'<div class="charts">{"".join(images)}</div>' if images
                   else "<p>No curves recorded for this run (re-evaluate it with "
                        "<code>ftstudio evaluate RUN</code>).</p>")
        return self._section("curves", "Curves", content)

    def _history(self) -> str:
        if not self.history:
            return self._section("history", "Training history", "<p>No history.csv.</p>")
        epochs = [row.get("epoch", i) + 1 for i, row in enumerate(self.history)]
        charts = []
        keys = [k for k in self.history[0] if k not in ("epoch", "lr", "learning_rate")
                and not k.startswith("val_")]
        for key in keys[:3]:
            series = [Series(name, epochs, [row.get(k, math.nan) for row in self.history],
                             markers=True)
                      for name, k in (("train", key), ("validation", "val_" + key))
                      if k in self.history[0]]
            charts.append(_png(line_chart_png(series, f"{key} per epoch", "epoch", key,
                                              integer_x=True,
                                              legend_at="tr" if "loss" in key else "br"),
                               f"{key} per epoch"))
        return self._section("history", "Training history",
                             f'<div class="charts">{"".join(charts)}</div>')

    def _examples(self) -> str:
        return self._section("examples", f"Worst examples ({self.split} split, highest loss)",
                             _worst_examples(self.run, self.split, self.evaluation))

    def _spec(self) -> str:
        text = json.dumps(self.spec, indent=2, sort_keys=False) if self.spec else "{}"
        return self._section("spec", "The spec (replay with ftstudio train spec.json)",
                             f"<pre>{html.escape(text)}</pre>")

    def _environment(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in sorted(self.env.items()))
        if "seconds" in self.baseline:
            rows += (f"<tr><td>baseline seconds</td><td>{self.baseline['seconds']}</td></tr>")
        content = f"<table>{rows}</table>" if rows else "<p>No env.json.</p>"
        return self._section("environment", "Environment", content)


def _classification_charts(out: str, rep: dict[str, Any]) -> list[str]:
    charts = []
    roc = [Series(f"{c['class']} (AUC {c.get('auc', math.nan):.3f})", c["fpr"], c["tpr"])
           for c in rep.get("roc", [])]
    if roc:
        charts.append(_png(line_chart_png(roc, f"ROC: {out}", "false positive rate",
                                          "true positive rate", (0, 1), (0, 1), diagonal=True,
                                          legend_at="br"),
                           f"ROC curves of {out}"))
    pr = [Series(f"{c['class']} (AP {c.get('ap', math.nan):.3f})", c["recall"], c["precision"])
          for c in rep.get("pr", [])]
    if pr:
        charts.append(_png(line_chart_png(pr, f"Precision-recall: {out}", "recall", "precision",
                                          (0, 1), (0, 1), legend_at="bl"),
                           f"precision-recall curves of {out}"))
    cal = rep.get("calibration") or {}
    if cal.get("confidence"):
        series = [Series(f"model (ECE {cal.get('ece', math.nan):.3f})", cal["confidence"],
                         cal["accuracy"], markers=True)]
        charts.append(_png(line_chart_png(series, f"Reliability: {out}", "confidence",
                                          "accuracy", (0, 1), (0, 1), diagonal=True,
                                          legend_at="br"),
                           f"reliability curve of {out}"))
    return charts


def _regression_charts(out: str, rep: dict[str, Any]) -> list[str]:
    true, pred = rep.get("y_true", []), rep.get("y_pred", [])
    if not true:
        return []
    residuals = [p - t for t, p in zip(true, pred, strict=False)]
    return [_png(scatter_png(true, pred, f"Predicted vs true: {out}", "true value",
                             "predicted value", identity=True), f"predicted vs true of {out}"),
            _png(scatter_png(pred, residuals, f"Residuals: {out}", "predicted value",
                             "predicted − true", zero_line=True), f"residuals of {out}")]


def _worst_examples(run: RunFolder, split: str, evaluation: dict[str, Any]) -> str:
    path = run.file("predictions.csv")
    if not path.is_file():
        return "<p>No predictions.csv.</p>"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        return "<p>No examples.</p>"
    inputs, outputs = parse_examples(rows[0])
    body = [r for r in rows[1:] if "split" not in inputs or r[inputs["split"]] == split]
    label = html.escape(str(evaluation.get("row_label", "row")))
    parts = []
    for out in outputs:
        ranked = body if out.loss < 0 else sorted(body, key=_by_loss(out.loss))
        header = (f"<tr><th class=\"n\">{label}</th><th>input</th><th>true</th>"
                  "<th>predicted</th><th class=\"n\">loss</th></tr>")
        lines = [header]
        for r in ranked[:WORST_EXAMPLES]:
            row_col = inputs.get("row", inputs.get("row_id", 0))
            lines.append(f"<tr><td class=\"n\">{html.escape(r[row_col])}</td>"
                         f"<td class=\"text\">{_input_cell(r, inputs)}</td>"
                         f"<td>{html.escape(r[out.true])}</td>"
                         f"<td>{html.escape(r[out.pred])}{_probability(r, out)}</td>"
                         f"<td class=\"n\">{html.escape(r[out.loss]) if out.loss >= 0 else ''}"
                         "</td></tr>")
        title = f"<h3>{html.escape(out.name)}</h3>" if len(outputs) > 1 else ""
        parts.append(f"{title}<table>{''.join(lines)}</table>")
    return "".join(parts)


def _by_loss(column: int) -> Callable[[list[str]], float]:
    """A sort key putting the highest loss first."""
    return lambda row: -to_float(row[column])


def _probability(row: list[str], out: Any) -> str:
    if out.confidence < 0:
        return ""
    p = to_float(row[out.confidence])
    return f' <span class="muted">({100 * p:.1f}%)</span>' if math.isfinite(p) else ""


def _input_cell(row: list[str], inputs: dict[str, int]) -> str:
    if "input" not in inputs:
        cells = [(k.removeprefix("input."), row[i]) for k, i in inputs.items()
                 if k.startswith("input.")]
        return html.escape(", ".join(f"{k}={v}" for k, v in cells))
    value = row[inputs["input"]]
    if Path(value).suffix.lower() in IMAGE_EXTENSIONS:
        return f"{_thumbnail(value)}<br><span class=\"muted\">{html.escape(value)}</span>"
    return html.escape(value)


def _thumbnail(path: str, size: int = 96) -> str:
    from PIL import Image

    try:
        with Image.open(path) as opened:
            small = opened.convert("RGB")
        small.thumbnail((size, size))
        buf = io.BytesIO()
        small.save(buf, format="PNG")
    except (OSError, ValueError):
        return "<span class=\"muted\">(image not readable)</span>"
    return _png(buf.getvalue(), Path(path).name)
