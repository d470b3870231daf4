"""Evaluate page: how good is a run? Metrics per class, confusion matrix, ROC, regression scatter.

Everything comes from the run folder's ``evaluation.json`` / ``metrics.json`` /
``history.csv`` / ``predictions.csv`` (read by the bridge), so a past run looks exactly as it
did when it finished.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.types import RunDetails
from ftstudio.ui.widgets.charts import TRAIN_COLOR, VAL_COLOR, make_plot
from ftstudio.ui.widgets.common import Card, MetricCard, PageHeader, page_layout, side_by_side
from ftstudio.ui.widgets.eval_charts import ConfusionMatrixView, RocView, ScatterView
from ftstudio.ui.widgets.train_charts import metric_names

__all__ = ["EvaluatePage"]

SPLIT_TITLES = {"test": "Test split", "val": "Validation split"}


def _under_option(option: QWidget, content: QWidget) -> QWidget:
    """A tab's content with the check box that changes it above."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 4, 0, 0)
    lay.addWidget(option)
    lay.addWidget(content, 1)
    return box


class EvaluatePage(QWidget):
    """Step 4: the evaluation of a run.

    Signals:
        statusMessage(str): a line for the status bar.
    """

    statusMessage = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluatePage")
        self.run: RunDetails | None = None
        self._updating = False

        self._build_header()
        cards_row = self._build_cards()
        table_card = self._build_table()
        self._build_tabs()
        splitter = side_by_side(table_card, self.tabs, (2, 3), (420, 620))

        content = QWidget()
        content_lay = QVBoxLayout(content)
        content_lay.setContentsMargins(0, 0, 0, 0)
        content_lay.setSpacing(10)
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
        self.mistakes_only.toggled.connect(self._fill_predictions)
        self._set_selectors_visible(False)

    def _build_header(self) -> None:
        self.header = PageHeader("Evaluate", "How well the trained model does on examples it "
                                             "never saw during training.")
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("splitCombo")
        self.output_combo = QComboBox()
        self.output_combo.setObjectName("outputCombo")
        self.header.action_row.addWidget(QLabel("Split"))
        self.header.action_row.addWidget(self.split_combo)
        self.output_label = QLabel("Output")
        self.header.action_row.addWidget(self.output_label)
        self.header.action_row.addWidget(self.output_combo)
        self.run_label = QLabel("")
        self.run_label.setObjectName("muted")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _build_cards(self) -> QHBoxLayout:
        self.cards = [MetricCard(c) for c in ("Accuracy", "Macro F1", "ROC AUC", "Loss")]
        cards_row = QHBoxLayout()
        cards_row.setSpacing(10)
        for c in self.cards:
            cards_row.addWidget(c)
        return cards_row

    def _build_table(self) -> Card:
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("metricsTable")
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 5):
            self.table.horizontalHeader().setSectionResizeMode(
                col, QHeaderView.ResizeMode.ResizeToContents)
        table_card = Card("Per class")
        table_card.body.addWidget(self.table)
        return table_card

    def _build_tabs(self) -> None:
        self.confusion = ConfusionMatrixView()
        self.confusion.setObjectName("confusion")
        self.normalize = QCheckBox("Show row percentages (recall)")
        self.roc = RocView()
        self.roc.setObjectName("roc")
        self.scatter = ScatterView()
        self.scatter.setObjectName("scatter")
        self.history_loss = make_plot("Loss per epoch", "epoch")
        self.history_metric = make_plot("Metric per epoch", "epoch")
        for p in (self.history_loss, self.history_metric):
            p.getPlotItem().addLegend(offset=(-10, 10), labelTextSize="8pt")
        hist_box = QWidget()
        hist_lay = QHBoxLayout(hist_box)
        hist_lay.setContentsMargins(0, 4, 0, 0)
        hist_lay.addWidget(self.history_loss)
        hist_lay.addWidget(self.history_metric)
        self.predictions = QTableWidget(0, 0)
        self.predictions.setObjectName("predictionsTable")
        self.predictions.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.predictions.verticalHeader().setVisible(False)
        self.predictions.setAlternatingRowColors(True)
        self.mistakes_only = QCheckBox("Only mistakes")
        self.mistakes_only.setChecked(True)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evalTabs")
        self.tab_confusion = self.tabs.addTab(_under_option(self.normalize, self.confusion),
                                              "Confusion matrix")
        self.tab_roc = self.tabs.addTab(self.roc, "ROC curve")
        self.tab_scatter = self.tabs.addTab(self.scatter, "Predicted vs true")
        self.tab_history = self.tabs.addTab(hist_box, "Training history")
        self.tab_predictions = self.tabs.addTab(_under_option(self.mistakes_only, self.predictions),
                                                 "Test predictions")

    # ============================================================== showing
    def show_run(self, run: RunDetails) -> None:
        """Show a run's evaluation."""
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
        status = run.status + (f" ({run.message})" if run.message else "")
        device = run.env.get("device", "")
        wall = run.env.get("wall_seconds")
        extra = f" · {device}" if device else ""
        extra += f" · {wall:.0f} s" if isinstance(wall, (int, float)) else ""
        self.run_label.setText(f"<b>{run.name}</b> · {status}{extra} · {run.path}")
        self.stack.setCurrentIndex(1)
        self.statusMessage.emit(f"Showing run {Path(run.path).name}")
        self._refresh()
        self._fill_history()
        self._fill_predictions()
        if not splits:
            self.run_label.setText(self.run_label.text() + " — this run has no evaluation "
                                   "(it did not finish, or had no validation/test rows).")

    def clear(self) -> None:
        """Show the empty state."""
        self.run = None
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
        metrics = self.run.metrics
        output = self.output_combo.currentData()
        multi = self.output_combo.count() > 1

        def metric(key: str) -> float | None:
            name = f"{split}.{output}.{key}" if multi else f"{split}.{key}"
            value = metrics.get(name)
            if value is None and rep is not None:
                value = rep.get(key)
            return None if value is None else float(value)

        loss = metrics.get(f"{split}.loss")
        task = (rep or {}).get("task", "classification")
        regression = task == "regression"
        captions = (["MAE", "RMSE", "R²", "Loss"] if regression
                    else ["Accuracy", "Macro F1", "ROC AUC", "Loss"])
        keys = ["mae", "rmse", "r2"] if regression else ["accuracy", "macro_f1", "roc_auc"]
        for card, caption in zip(self.cards, captions, strict=True):
            card.caption.setText(caption)
        for card, key in zip(self.cards[:3], keys, strict=True):
            card.set_value(metric(key), percent=key == "accuracy")
        self.cards[3].set_value(loss)
        self.tabs.setTabVisible(self.tab_confusion, not regression)
        self.tabs.setTabVisible(self.tab_roc, not regression)
        self.tabs.setTabVisible(self.tab_scatter, regression)
        if rep is None:
            self.table.setRowCount(0)
            return
        if regression:
            self._fill_regression(rep)
        else:
            self._fill_classification(rep)

    def _fill_classification(self, rep: dict[str, Any]) -> None:
        rows = list(rep.get("per_class", []))
        self.table.setColumnCount(5)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.setRowCount(len(rows) + 2)
        worst = min((r.get("f1", 1.0) for r in rows), default=1.0)
        for i, r in enumerate(rows):
            self._set_row(i, [str(r.get("class")), r.get("precision"), r.get("recall"),
                              r.get("f1"), r.get("support")],
                          highlight=len(rows) > 2 and r.get("f1") == worst)
        total = sum(int(r.get("support", 0)) for r in rows)
        self._set_row(len(rows), ["Macro avg", rep.get("macro_precision"),
                                  rep.get("macro_recall"), rep.get("macro_f1"), total], bold=True)
        self._set_row(len(rows) + 1, ["Accuracy", None, None, rep.get("accuracy"), total],
                      bold=True)
        classes = rep.get("classes") or [str(r.get("class")) for r in rows]
        self.confusion.set_matrix(rep.get("confusion", []), classes,
                                  normalize=self.normalize.isChecked())
        self.roc.set_curves(rep.get("roc", []))

    def _fill_regression(self, rep: dict[str, Any]) -> None:
        self.table.setColumnCount(2)
        self.table.setHorizontalHeaderLabels(["Metric", "Value"])
        items = [("Examples", rep.get("n")), ("Mean absolute error", rep.get("mae")),
                 ("Root mean squared error", rep.get("rmse")), ("R²", rep.get("r2"))]
        self.table.setRowCount(len(items))
        for i, (name, value) in enumerate(items):
            self._set_row(i, [name, value])
        self.scatter.set_points(rep.get("y_true", []), rep.get("y_pred", []))

    def _set_row(self, row: int, values: list[Any], bold: bool = False,
                 highlight: bool = False) -> None:
        for col, value in enumerate(values):
            if value is None:
                text = ""
            elif isinstance(value, float):
                text = "—" if math.isnan(value) else f"{value:.3f}"
            elif isinstance(value, int):
                text = f"{value:,}"
            else:
                text = str(value)
            item = QTableWidgetItem(text)
            if col > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            if highlight:
                item.setBackground(QColor("#fdecea"))
                item.setToolTip("The weakest class")
            self.table.setItem(row, col, item)

    def _fill_history(self) -> None:
        rows = self.run.history if self.run else []
        for history_plot in (self.history_loss, self.history_metric):
            history_plot.getPlotItem().clear()
        if not rows:
            return
        epochs = [int(r.get("epoch", i)) + 1 for i, r in enumerate(rows)]

        def series(key: str) -> list[float]:
            return [float(r.get(key, math.nan)) for r in rows]

        def plot(widget: Any, key: str, color: str, name: str) -> None:
            values = series(key)
            if any(math.isfinite(v) for v in values):
                widget.plot(epochs, values, pen=pg.mkPen(color, width=2), symbol="o",
                            symbolSize=6, symbolBrush=color, name=name)

        plot(self.history_loss, "loss", TRAIN_COLOR, "train")
        plot(self.history_loss, "val_loss", VAL_COLOR, "validation")
        names = metric_names(rows[0])
        if names:
            plot(self.history_metric, names[0], TRAIN_COLOR, "train")
            plot(self.history_metric, "val_" + names[0], VAL_COLOR, "validation")
            self.history_metric.getPlotItem().setTitle(
                f"<span style='font-size:10pt;font-weight:600'>"
                f"{names[0].replace('_', ' ').capitalize()} per epoch</span>")

    @Slot()
    def _fill_predictions(self) -> None:
        header, rows = self.run.predictions if self.run else ([], [])
        self.predictions.clear()
        self.predictions.setColumnCount(len(header))
        self.predictions.setHorizontalHeaderLabels(header)
        if self.mistakes_only.isChecked() and header:
            pairs = [(header.index(h), header.index(h[:-5] + ".pred")) for h in header
                     if h.endswith(".true") and h[:-5] + ".pred" in header]
            tasks = {o.get("name"): o.get("task") for o in
                     (self.run.evaluation.get("outputs", []) if self.run else [])}
            classes = [p for p in pairs if tasks.get(header[p[0]][:-5]) == "classification"
                       or (header[p[0]][:-5] not in tasks and not _numeric_column(rows, p[0]))]
            if classes:
                rows = [r for r in rows if any(r[t] != r[p] for t, p in classes)]
        shown = rows[:2000]
        self.predictions.setRowCount(len(shown))
        for i, row in enumerate(shown):
            for j, value in enumerate(row):
                self.predictions.setItem(i, j, QTableWidgetItem(value))
        self.predictions.resizeColumnsToContents()
        n = len(rows)
        what = (" mistake" if n == 1 else " mistakes") if self.mistakes_only.isChecked() else ""
        self.tabs.setTabText(self.tab_predictions, f"Test predictions ({n:,}{what})")


def _numeric_column(rows: list[list[str]], col: int) -> bool:
    try:
        for r in rows[:20]:
            float(r[col])
        return bool(rows)
    except (ValueError, IndexError):
        return False
