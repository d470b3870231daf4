"""The Runs page's table: one row per run folder, sortable, with names the user can edit.

A run is named after its spec (``flowers-mlp``); the name the user gives it on the Runs page
is kept in the settings (keyed by the run folder), so the run folder stays as training wrote it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSettings, Qt
from PySide6.QtGui import QColor

from ftstudio.bridge.types import RunRow

__all__ = ["METRIC_COLUMNS", "RunsModel", "key_metric"]

NAMES_GROUP = "runs/names"
"""Settings group: run folder -> the name the user gave the run."""

STATUS_COLORS = {"finished": "#188038", "stopped": "#b06000", "failed": "#c5221f",
                 "running": "#1a73e8"}
_Index = QModelIndex | QPersistentModelIndex

METRIC_COLUMNS = [("Accuracy", ("accuracy",)), ("Macro F1", ("macro_f1",)),
                  ("MAE / R²", ("mae", "r2")), ("Test loss", ("loss",))]


def key_metric(metrics: dict[str, float], names: tuple[str, ...], split: str = "test"
               ) -> float | None:
    """Return the first ``split.<name>`` (or ``split.<output>.<name>``) metric found."""
    for name in names:
        key = f"{split}.{name}"
        if key in metrics:
            return float(metrics[key])
        for k, v in metrics.items():
            if k.startswith(f"{split}.") and k.endswith(f".{name}"):
                return float(v)
    return None


class RunsModel(QAbstractTableModel):
    """Table model over run rows; the Run column is editable (the run's display name).

    Args:
        settings: where the names given to runs are kept (``None``: names are not editable).
        parent: the Qt parent.
    """

    HEADERS = ["Run", "Started", "Status", "Model", "Data", *[c for c, _ in METRIC_COLUMNS],
               "Folder"]
    FIRST_METRIC = 5

    def __init__(self, settings: QSettings | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[RunRow] = []
        self.settings = settings

    def name(self, run: RunRow) -> str:
        """The name shown for ``run``: the one the user gave it, else its spec's."""
        if self.settings is not None:
            given = self.settings.value(f"{NAMES_GROUP}/{_key(run.path)}")
            if given:
                return str(given)
        return run.name

    def rename(self, row: int, name: str) -> bool:
        """Give run ``row`` a display name (an empty name goes back to the spec's)."""
        if self.settings is None or not 0 <= row < len(self.rows):
            return False
        key = f"{NAMES_GROUP}/{_key(self.rows[row].path)}"
        name = name.strip()
        if name and name != self.rows[row].name:
            self.settings.setValue(key, name)
        else:
            self.settings.remove(key)
        self.settings.sync()
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)
        return True

    def flags(self, index: _Index) -> Qt.ItemFlag:  # noqa: D102
        flags = super().flags(index)
        if index.isValid() and index.column() == 0 and self.settings is not None:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: _Index, value: Any,  # noqa: N802, D102
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != 0:
            return False
        return self.rename(index.row(), str(value))

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show ``rows``."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802, D102
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        run = self.rows[index.row()]
        col = index.column()
        n_metrics = len(METRIC_COLUMNS)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.UserRole,
                    Qt.ItemDataRole.EditRole):
            sort = role == Qt.ItemDataRole.UserRole
            if col == 0:
                return self.name(run)
            if col == 1:
                return run.created if sort else time.strftime("%Y-%m-%d %H:%M",
                                                              time.localtime(run.created))
            if col == 2:
                return run.status
            if col == 3:
                return run.model
            if col == 4:
                return run.data
            first = self.FIRST_METRIC
            if first <= col < first + n_metrics:
                value = key_metric(run.metrics, METRIC_COLUMNS[col - first][1])
                if sort:
                    return -math.inf if value is None or math.isnan(value) else value
                if value is None or math.isnan(value):
                    return "—"
                return f"{value:.3f}"
            return Path(run.path).name
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return QColor(STATUS_COLORS.get(run.status, "#5f6368"))
        if role == Qt.ItemDataRole.TextAlignmentRole and \
                self.FIRST_METRIC <= col < self.FIRST_METRIC + n_metrics:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{self.name(run)}\n{run.path}" if col == 0 else run.path
        return None


def _key(path: str) -> str:
    """A settings key for a run folder (no slashes: QSettings would nest them)."""
    return str(Path(path).resolve()).replace("\\", "|").replace("/", "|")
