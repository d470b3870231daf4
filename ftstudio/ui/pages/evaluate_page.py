"""Evaluate page: how good a run is, where it fails, and what fine-tuning added.

Metrics per class, before vs after (the linear-probe baseline), a clickable confusion matrix
whose cells open their examples (worst first, thumbnails for images), ROC / precision-recall /
reliability curves or regression plots, the training history, Try it, and an HTML report.

Everything comes from the run folder's files (read by the bridge), so a past run looks exactly
as it did when it finished; a run folder that lacks files shows what it has and says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import evaluation_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.evaluation_types import ExampleTable, TryItResult
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.bridge.types import RunDetails
from ftstudio.formatting import format_duration
from ftstudio.ui.pages.evaluate_examples import ExamplesPanel
from ftstudio.ui.pages.evaluate_metrics_table import MetricsTableCard
from ftstudio.ui.pages.evaluate_parts import (
    BeforeAfterCard,
    TryItPanel,
    baseline_pair,
    baseline_wording,
    plot_history,
    with_options_bar,
)
from ftstudio.ui.widgets.charts import make_plot
from ftstudio.ui.widgets.common import (
    ElidedLabel,
    MetricCard,
    PageHeader,
    page_layout,
    side_by_side,
)
from ftstudio.ui.widgets.eval_charts import (
    CalibrationView,
    ConfusionMatrixView,
    PrView,
    ResidualView,
    RocView,
    ScatterView,
)
from ftstudio.ui.widgets.saliency_view import WhyPanel, stacked, start_explaining

__all__ = ["EvaluatePage"]

SPLIT_TITLES = {"test": "Test split", "val": "Validation split"}


class EvaluatePage(QWidget):
    """Step 4: the evaluation of a run.

    Args:
        runner: the window's job runner (Try it and the report run as jobs); when None the
            page uses its window's ``runner``.

    Signals:
        statusMessage(str): a line for the status bar.
    """

    statusMessage = Signal(str)

    def __init__(self, runner: JobRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluatePage")
        self.run: RunDetails | None = None
        self.examples_table: ExampleTable | None = None
        self.missing: list[str] = []
        self._last_try: dict[str, Any] | None = None
        self.open_reports = True
        self.report_path: str | None = None
        self._runner = runner
        self._jobs: CurrentJobs | None = None
        self._updating = False

        self._build_header()
        cards_row = self._build_cards()
        self.table_card = MetricsTableCard()
        self.table = self.table_card.table
        self._build_tabs()
        splitter = side_by_side(self.table_card, self.tabs, (0, 1), (360, 660))
        # the charts take the height there is (their preferred height would make the page
        # scroll at 1280x800); below this minimum the page scrolls instead of squashing them
        splitter.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        splitter.setMinimumHeight(330)

        content = QWidget()
        content_lay = QVBoxLayout(content)
        content_lay.setContentsMargins(0, 0, 0, 0)
        content_lay.setSpacing(8)
        content_lay.addWidget(self.run_label)
        content_lay.addLayout(cards_row)
        content_lay.addWidget(splitter, 1)
        self.empty = QLabel("No evaluation yet.\n\nTrain a model on the Train page, or open a "
                            "past run on the Runs page.")
        self.empty.setObjectName("dropHint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)

        page_layout(self, self.header).addWidget(self.stack, 1)

        self.split_combo.currentIndexChanged.connect(self._refresh)
        self.output_combo.currentIndexChanged.connect(self._refresh)
        self.normalize.toggled.connect(self._refresh)
        self.curve_combo.currentIndexChanged.connect(self.curve_stack.setCurrentIndex)
        self.confusion.cellClicked.connect(self._on_cell_clicked)
        self.try_panel.tryRequested.connect(self._try)
        self.why.explainRequested.connect(lambda: self._explain(
            self._last_try, self.why.view.show_explanation, self.why.view.show_message))
        self.examples.explainRequested.connect(lambda args: self._explain(
            args, self.examples.show_explanation, self.examples.count.setText))
        self.report_btn.clicked.connect(self.write_report)
        self._set_selectors_visible(False)

    # ================================================================ building
    def _build_header(self) -> None:
        self.header = PageHeader("Evaluate", "How well the trained model does on examples it "
                                             "never saw during training.")
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("splitCombo")
        self.output_combo = QComboBox()
        self.output_combo.setObjectName("outputCombo")
        self.report_btn = QPushButton("HTML report")
        self.report_btn.setObjectName("reportButton")
        self.report_btn.setToolTip("Write the run's evaluation as one HTML file (opens offline "
                                   "in any browser) and open it")
        self.header.action_row.addWidget(QLabel("Split"))
        self.header.action_row.addWidget(self.split_combo)
        self.output_label = QLabel("Output")
        self.header.action_row.addWidget(self.output_label)
        self.header.action_row.addWidget(self.output_combo)
        self.header.action_row.addWidget(self.report_btn)
        self.run_label = QLabel("")
        self.run_label.setObjectName("muted")
        self.run_label.setWordWrap(True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _build_cards(self) -> QHBoxLayout:
        self.cards = [MetricCard(c) for c in ("Accuracy", "Macro F1", "ROC AUC", "Loss")]
        self.before_after = BeforeAfterCard()
        self.before_after.setObjectName("beforeAfter")
        cards_row = QHBoxLayout()
        cards_row.setSpacing(8)
        for c in self.cards:
            cards_row.addWidget(c, 1)
        cards_row.addWidget(self.before_after, 3)
        return cards_row

    def _build_tabs(self) -> None:
        self.confusion = ConfusionMatrixView()
        self.confusion.setObjectName("confusion")
        self.normalize = QCheckBox("Show row percentages (recall)")
        hint = ElidedLabel("Click a cell to see its examples.")
        hint.setObjectName("muted")
        bar = QHBoxLayout()
        bar.addWidget(self.normalize)
        bar.addStretch(1)
        bar.addWidget(hint)
        self.examples = ExamplesPanel()
        self.roc, self.pr, self.calibration = RocView(), PrView(), CalibrationView()
        self.roc.setObjectName("roc")
        self.curve_combo = QComboBox()
        self.curve_combo.addItems(["ROC curve", "Precision-recall", "Reliability (calibration)"])
        self.curve_stack = QStackedWidget()
        for w in (self.roc, self.pr, self.calibration):
            self.curve_stack.addWidget(w)
        self.curve_note = ElidedLabel("")
        self.curve_note.setObjectName("muted")
        curve_bar = QHBoxLayout()
        curve_bar.addWidget(self.curve_combo)
        curve_bar.addWidget(self.curve_note, 1)
        self.scatter = ScatterView()
        self.scatter.setObjectName("scatter")
        self.residuals = ResidualView()
        plots = QWidget()
        plots_lay = QHBoxLayout(plots)
        plots_lay.setContentsMargins(0, 4, 0, 0)
        plots_lay.addWidget(self.scatter)
        plots_lay.addWidget(self.residuals)
        self.history_loss = make_plot("Loss per epoch", "epoch")
        self.history_metric = make_plot("Metric per epoch", "epoch")
        for p in (self.history_loss, self.history_metric):
            p.getPlotItem().addLegend(offset=(-10, -10), labelTextSize="8pt")
        hist_box = QWidget()
        hist_lay = QHBoxLayout(hist_box)
        hist_lay.setContentsMargins(0, 4, 0, 0)
        hist_lay.addWidget(self.history_loss)
        hist_lay.addWidget(self.history_metric)
        self.try_panel = TryItPanel()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evalTabs")
        self.tab_confusion = self.tabs.addTab(with_options_bar(bar, self.confusion), "Confusion")
        self.tab_examples = self.tabs.addTab(self.examples, "Examples")
        self.tab_roc = self.tabs.addTab(with_options_bar(curve_bar, self.curve_stack), "Curves")
        self.tab_scatter = self.tabs.addTab(plots, "Predicted vs true")
        self.tab_history = self.tabs.addTab(hist_box, "History")
        self.why = WhyPanel()
        self.tab_try = self.tabs.addTab(stacked(self.try_panel, self.why), "Try it")

    # ================================================================ showing
    def show_run(self, run: RunDetails) -> None:
        """Show a run's evaluation (a run folder lacking files shows what it has)."""
        self.run = run
        ev = run.evaluation or {}
        splits = [s for s in ("test", "val") if s in ev.get("splits", {})]
        outputs = [o.get("name") for o in ev.get("outputs", [])] or sorted(
            {name for s in ev.get("splits", {}).values() for name in s.get("outputs", {})})
        self._updating = True
        self.split_combo.clear()
        for s in splits:
            self.split_combo.addItem(SPLIT_TITLES.get(s, s), s)
        self.output_combo.clear()
        for name in outputs:
            self.output_combo.addItem(str(name), name)
        self._updating = False
        self._set_selectors_visible(True)
        self.output_combo.setVisible(len(outputs) > 1)
        self.output_label.setVisible(len(outputs) > 1)
        self.missing = evaluation_calls.missing_files(run.path)
        self.examples_table = evaluation_calls.example_table(run)
        self.run_label.setText(self._run_line(run, bool(splits)))
        self.stack.setCurrentIndex(1)
        self.statusMessage.emit(f"Showing run {Path(run.path).name}")
        self._refresh()
        self._fill_history()
        self._set_up_try_it()

    def _run_line(self, run: RunDetails, evaluated: bool) -> str:
        status = run.status + (f" ({run.message})" if run.message else "")
        device = run.env.get("device", "")
        wall = run.env.get("wall_seconds")
        extra = f" · {device}" if device else ""
        extra += f" · took {format_duration(float(wall))}" if isinstance(wall, (int, float)) \
            else ""
        line = f"<b>{run.name}</b> · {status}{extra} · {run.path}"
        if self.missing:
            line += (f"<br><span style='color:#b06000'>This run folder lacks "
                     f"{', '.join(self.missing)}: showing what it has.</span>")
        if not evaluated:
            line += " — this run has no evaluation (it did not finish, or had no " \
                    "validation/test rows)."
        return line

    def clear(self) -> None:
        """Show the empty state."""
        self.run = None
        self.examples_table = None
        self.stack.setCurrentIndex(0)
        self._set_selectors_visible(False)

    def _set_selectors_visible(self, visible: bool) -> None:
        for i in range(self.header.action_row.count()):
            item = self.header.action_row.itemAt(i)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setVisible(visible)

    def report(self) -> dict[str, Any] | None:
        """Return the report shown (``evaluation.json`` split/output entry)."""
        if self.run is None:
            return None
        split = self.split_combo.currentData()
        output = self.output_combo.currentData()
        try:
            return self.run.evaluation["splits"][split]["outputs"][output]  # type: ignore[no-any-return]
        except (KeyError, TypeError):
            return None

    @Slot()
    def _refresh(self) -> None:
        if self._updating or self.run is None:
            return
        rep = self.report()
        split = self.split_combo.currentData() or "test"
        output = self.output_combo.currentData()
        multi = self.output_combo.count() > 1
        regression = (rep or {}).get("task", "classification") == "regression"
        self._fill_cards(rep, split, output, multi, regression)
        self.tabs.setTabVisible(self.tab_confusion, not regression)
        self.tabs.setTabVisible(self.tab_roc, not regression)
        self.tabs.setTabVisible(self.tab_scatter, regression)
        self.examples.set_examples(self.examples_table, output, split)
        n = len(self.examples.model.rows)
        self.tabs.setTabText(self.tab_examples, f"Examples ({n:,})" if self.examples_table
                             and len(self.examples_table) else "Examples")
        if rep is None:
            self.table_card.clear_rows()
            return
        self.table_card.show_report(rep, regression)
        if regression:
            self._fill_regression(rep)
        else:
            self._fill_classification(rep)

    def _fill_cards(self, rep: dict[str, Any] | None, split: str, output: Any, multi: bool,
                    regression: bool) -> None:
        assert self.run is not None
        metrics = self.run.metrics

        def metric(key: str) -> float | None:
            name = f"{split}.{output}.{key}" if multi else f"{split}.{key}"
            value = metrics.get(name)
            if value is None and rep is not None:
                value = rep.get(key)
            return None if value is None else float(value)

        captions = (["MAE", "RMSE", "R²", "Loss"] if regression
                    else ["Accuracy", "Macro F1", "ROC AUC", "Loss"])
        keys = ["mae", "rmse", "r2"] if regression else ["accuracy", "macro_f1", "roc_auc"]
        for card, caption in zip(self.cards, captions, strict=True):
            card.caption.setText(caption)
        for card, key in zip(self.cards[:3], keys, strict=True):
            card.set_value(metric(key), percent=key == "accuracy")
        self.cards[3].set_value(metrics.get(f"{split}.loss"))
        self.before_after.show_pair(baseline_pair(metrics, split, output, multi, regression),
                                    *baseline_wording(self.run.spec))

    def _fill_classification(self, rep: dict[str, Any]) -> None:
        """Show a classifier's confusion matrix and curves (the table fills itself)."""
        classes = rep.get("classes") or [str(r.get("class")) for r in rep.get("per_class", [])]
        self.confusion.set_matrix(rep.get("confusion", []), classes,
                                  normalize=self.normalize.isChecked())
        self.roc.set_curves(rep.get("roc", []))
        self.pr.set_curves(rep.get("pr", []))
        self.calibration.set_calibration(rep.get("calibration") or {})
        ap, cal = rep.get("average_precision"), rep.get("calibration") or {}
        notes = []
        if isinstance(ap, (int, float)) and math.isfinite(ap):
            notes.append(f"average precision {ap:.3f}")
        if isinstance(cal.get("ece"), (int, float)):
            notes.append(f"calibration error {cal['ece']:.3f}")
        self.curve_note.set_full_text(" · ".join(notes) if notes or "pr" in rep else
                                "Precision-recall and reliability curves need a re-evaluation "
                                "(ftstudio evaluate RUN).")

    def _fill_regression(self, rep: dict[str, Any]) -> None:
        """Show a regression's predicted-vs-true and residual plots."""
        self.scatter.set_points(rep.get("y_true", []), rep.get("y_pred", []))
        self.residuals.set_values(rep.get("y_true", []), rep.get("y_pred", []))

    def _fill_history(self) -> None:
        plot_history(self.history_loss, self.history_metric, self.run.history if self.run else [])

    # ================================================================ drill-down
    @Slot(int, int)
    def _on_cell_clicked(self, true: int, pred: int) -> None:
        rep = self.report() or {}
        classes = rep.get("classes") or []
        if not (0 <= true < len(classes) and 0 <= pred < len(classes)):
            return
        self.show_cell(classes[true], classes[pred])

    def show_cell(self, true_class: str, pred_class: str) -> None:
        """Show the examples of one confusion-matrix cell (worst first) on the Examples tab."""
        self.examples.show_cell(true_class, pred_class)
        self.tabs.setCurrentIndex(self.tab_examples)
        n = len(self.examples.model.rows)
        self.statusMessage.emit(f"{n:,} example{'s' if n != 1 else ''}: true {true_class}, "
                                f"predicted {pred_class}")

    # ================================================================ jobs
    def _current_jobs(self) -> CurrentJobs | None:
        if self._jobs is None:
            runner = self._runner or getattr(self.window(), "runner", None)
            if isinstance(runner, JobRunner):
                self._jobs = CurrentJobs(runner, self)
        return self._jobs

    def _set_up_try_it(self) -> None:
        assert self.run is not None
        t = self.examples_table
        example = t.features[0] if t is not None and t.features else None
        unavailable = "" if "model.keras" not in self.missing else \
            "This run has no model.keras (it did not finish), so it cannot predict."
        self.try_panel.set_run(t.kind if t else "text", t.feature_names if t else [], example,
                               unavailable)

    @Slot(object)
    def _try(self, args: dict[str, Any]) -> None:
        jobs = self._current_jobs()
        if self.run is None or jobs is None:
            self.try_panel.set_message("The engine is not available.", error=True)
            return
        self._last_try = args
        jobs.start("try", evaluation_calls.try_it, self.run.path, **args,
                   on_result=self._on_tried, on_error=self._on_try_failed,
                   title="Cannot predict this example")

    def _on_tried(self, result: TryItResult) -> None:
        if self.run is not None and result.run_dir == self.run.path:
            self.try_panel.show_result(result)

    def _on_try_failed(self, info: ErrorInfo) -> None:
        text = info.message if info.user_error else f"{info.message}\n\n{info.details or ''}"
        self.try_panel.set_message(text, error=True)

    def _explain(self, args: dict[str, Any] | None, show: Any, say: Any) -> None:
        """Why the run predicts what it does for a tried or a listed example (saliency)."""
        jobs = self._current_jobs()
        if self.run is not None and jobs is not None:
            start_explaining(jobs, self.run.path, args, show, say)

    @Slot()
    def write_report(self) -> None:
        """Write the run's HTML report (in a job) and open it in the browser."""
        jobs = self._current_jobs()
        if self.run is None or jobs is None:
            return
        self.report_btn.setEnabled(False)
        self.statusMessage.emit("Writing the HTML report…")
        jobs.start("report", evaluation_calls.write_report, self.run.path,
                   on_result=self._on_report, on_error=self._on_report_failed,
                   on_finished=lambda: self.report_btn.setEnabled(True),
                   title="Cannot write the report")

    def _on_report(self, path: str) -> None:
        self.report_path = path
        self.statusMessage.emit(f"Report written: {path}")
        if self.open_reports:
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def _on_report_failed(self, info: ErrorInfo) -> None:
        self.statusMessage.emit(f"{info.title}: {info.message}")
