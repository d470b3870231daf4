"""The Evaluate page's metrics table: per-class scores, or the regression metrics.

A card with one table: for a classifier one row per class (the weakest class highlighted when
there is one), then the macro average and the accuracy; for a regression the error metrics.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from ftstudio.ui.widgets.common import Card

__all__ = ["CLASS_COLUMNS", "MetricsTableCard"]

CLASS_COLUMNS = ["Class", "Precision", "Recall", "F1", "Count"]


def _cell_text(value: Any) -> str:
    """Return a metrics-table cell's text: 3 decimals, thousands separators, "—" for NaN."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class MetricsTableCard(Card):
    """The "Per class" card (titled "Metrics" for a regression).

    Attributes:
        table: the table widget (read by tests and the screen-size checks).
    """

    def __init__(self) -> None:
        super().__init__("Per class")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("metricsTable")
        self.table.setHorizontalHeaderLabels(CLASS_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # names give way first
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.addWidget(self.table)
        self.setMinimumWidth(345)  # every column, also on a 1024-pixel screen

    def clear_rows(self) -> None:
        """Empty the table (the split/output shown has no report)."""
        self.table.setRowCount(0)

    def show_report(self, rep: dict[str, Any], regression: bool) -> None:
        """Fill the table from one ``evaluation.json`` split/output entry."""
        if self.title_label is not None:
            self.title_label.setText("Metrics" if regression else "Per class")
        if regression:
            self._fill_regression(rep)
        else:
            self._fill_classification(rep)

    def _fill_classification(self, rep: dict[str, Any]) -> None:
        rows = list(rep.get("per_class", []))
        self.table.setColumnCount(5)
        self.table.setHorizontalHeaderLabels(CLASS_COLUMNS)
        self.table.setRowCount(len(rows) + 2)
        f1s = [r.get("f1", 1.0) for r in rows]
        # the weakest class stands out only when there is one (not when every class ties)
        worst = min(f1s) if len(rows) > 2 and len(set(f1s)) > 1 else None
        for i, r in enumerate(rows):
            self._set_row(i, [str(r.get("class")), r.get("precision"), r.get("recall"),
                              r.get("f1"), r.get("support")],
                          highlight=worst is not None and r.get("f1") == worst)
        total = sum(int(r.get("support", 0)) for r in rows)
        self._set_row(len(rows), ["Macro avg", rep.get("macro_precision"),
                                  rep.get("macro_recall"), rep.get("macro_f1"), total], bold=True)
        self._set_row(len(rows) + 1, ["Accuracy", None, None, rep.get("accuracy"), total],
                      bold=True)

    def _fill_regression(self, rep: dict[str, Any]) -> None:
        self.table.setColumnCount(2)
        self.table.setHorizontalHeaderLabels(["Metric", "Value"])
        items = [("Examples", rep.get("n")), ("Mean absolute error", rep.get("mae")),
                 ("Root mean squared error", rep.get("rmse")), ("R²", rep.get("r2"))]
        self.table.setRowCount(len(items))
        for i, (name, value) in enumerate(items):
            self._set_row(i, [name, value])

    def _set_row(self, row: int, values: list[Any], bold: bool = False,
                 highlight: bool = False) -> None:
        for col, value in enumerate(values):
            item = QTableWidgetItem(_cell_text(value))
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
