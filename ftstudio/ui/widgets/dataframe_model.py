"""A read-only Qt table model over a pandas DataFrame, reading cells in place.

The model keeps one NumPy view per column (``frame[col].to_numpy()``, no copy for a
single-dtype column) and formats a cell only when the view asks for it, so a 100 000-row
preview costs no more than the rows on screen. pandas is never imported here: the frame
arrives from the bridge and is used through its own methods.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPixmap

from ftstudio.ui.widgets.thumbnails import read_thumbnail

__all__ = ["ROLE_COLORS", "DataFrameModel"]

ROLE_COLORS = {
    "text": QColor("#e8f0ff"),
    "feature": QColor("#eaf7ee"),
    "label": QColor("#fff3dc"),
}
"""Background tints of columns by role (input text, numeric feature, label)."""

_ROLE_TITLES = {"text": "text input", "feature": "feature", "label": "label"}
_MAX_DISPLAY = 240
_MAX_TOOLTIP = 2000
_MAX_THUMBNAILS = 600
"""Thumbnails kept in memory (the rows on screen and a few screens around them)."""

_Index = QModelIndex | QPersistentModelIndex


class DataFrameModel(QAbstractTableModel):
    """Table model over a DataFrame; columns can be tinted by their role.

    Args:
        frame: the DataFrame (or ``None`` for an empty table).
        parent: the Qt parent.
    """

    def __init__(self, frame: Any = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._frame: Any = None
        self._columns: list[Any] = []
        self._names: list[str] = []
        self._index: Any = None
        self._roles: dict[str, str] = {}
        self._missing_brush = QBrush(QColor("#9aa0a6"))
        self._flag_brush = QBrush(QColor("#c5221f"))
        self._flags: dict[int, str] = {}
        self._row_title = "line in the file"
        self._thumb_root: Path | None = None
        self._thumb_column = 0
        self._thumb_size = 44
        self._thumbs: dict[int, QPixmap] = {}
        self._italic = QFont()
        self._italic.setItalic(True)
        self.set_frame(frame)

    # ---------------------------------------------------------------- data
    def set_frame(self, frame: Any) -> None:
        """Show another DataFrame (``None`` empties the table)."""
        self.beginResetModel()
        self._frame = frame
        self._flags = {}
        self._thumbs = {}
        if frame is None:
            self._columns, self._names, self._index = [], [], None
        else:
            self._names = [str(c) for c in frame.columns]
            self._columns = [frame.iloc[:, j].to_numpy() for j in range(frame.shape[1])]
            self._index = frame.index.to_numpy()
        self.endResetModel()

    @property
    def frame(self) -> Any:
        """The DataFrame shown (or ``None``)."""
        return self._frame

    def column_names(self) -> list[str]:
        """Return the column names, in order."""
        return list(self._names)

    def set_roles(self, roles: dict[str, str]) -> None:
        """Tint columns: ``{column name: "text" | "feature" | "label"}``."""
        if roles == self._roles:
            return
        self._roles = dict(roles)
        if self._names:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1),
                                  [Qt.ItemDataRole.BackgroundRole])
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)

    def set_flags(self, flags: dict[int, str]) -> None:
        """Mark rows (by position) with a note, shown in red after the first cell ({} clears)."""
        self._flags = dict(flags)
        if self._names:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    def flags_by_row(self) -> dict[int, str]:
        """The marked rows and their notes."""
        return dict(self._flags)

    def set_row_title(self, title: str) -> None:
        """What the row numbers are (their tooltip): "line in the file", "image number"."""
        self._row_title = title

    def set_thumbnails(self, root: str | None, column: int = 0, size: int = 44) -> None:
        """Show a thumbnail of the image file named in ``column`` (relative to ``root``)."""
        self._thumb_root = Path(root) if root else None
        self._thumb_column = column
        self._thumb_size = size
        self._thumbs = {}

    def thumbnail(self, row: int) -> QPixmap | None:
        """The thumbnail of a row's image (decoded at thumbnail size, cached); None if none."""
        if self._thumb_root is None or not self._columns:
            return None
        hit = self._thumbs.get(row)
        if hit is not None:
            return hit
        pixmap = read_thumbnail(str(self._thumb_root / str(self._columns[self._thumb_column][row])),
                                self._thumb_size)
        if len(self._thumbs) >= _MAX_THUMBNAILS:
            self._thumbs.clear()
        self._thumbs[row] = pixmap
        return pixmap

    # ------------------------------------------------------------- Qt API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        if parent.isValid() or not self._columns:
            return 0
        return len(self._columns[0])

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        flag = self._flags.get(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            value = self._columns[index.column()][index.row()]
            text = _format(value)
            if text is None:
                text = "—"
            elif len(text) > _MAX_DISPLAY:
                text = text[:_MAX_DISPLAY] + "…"
            return f"⚠ {text} ({flag})" if flag and index.column() == 0 else text
        if role == Qt.ItemDataRole.DecorationRole and index.column() == self._thumb_column:
            pixmap = self.thumbnail(index.row())
            return pixmap if pixmap is not None and not pixmap.isNull() else None
        if flag and role == Qt.ItemDataRole.ToolTipRole:
            return flag
        if flag and role == Qt.ItemDataRole.ForegroundRole:
            return self._flag_brush
        if role == Qt.ItemDataRole.ToolTipRole:
            text = _format(self._columns[index.column()][index.row()])
            if text is None or len(text) < 40:
                return None
            return text[:_MAX_TOOLTIP]
        if role == Qt.ItemDataRole.BackgroundRole:
            role_name = self._roles.get(self._names[index.column()])
            return ROLE_COLORS.get(role_name) if role_name else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if _format(self._columns[index.column()][index.row()]) is None:
                return self._missing_brush
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            value = self._columns[index.column()][index.row()]
            if isinstance(value, (int, float)) or hasattr(value, "dtype"):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802, D102
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if section >= len(self._names):
                return None
            name = self._names[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return name
            if role == Qt.ItemDataRole.ToolTipRole:
                title = _ROLE_TITLES.get(self._roles.get(name, ""), "")
                return f"{name} ({title})" if title else name
            if role == Qt.ItemDataRole.BackgroundRole:
                role_name = self._roles.get(name)
                return ROLE_COLORS.get(role_name) if role_name else None
            if role == Qt.ItemDataRole.FontRole and name in self._roles:
                font = QFont()
                font.setBold(True)
                return font
            return None
        if role == Qt.ItemDataRole.DisplayRole and self._index is not None \
                and section < len(self._index):
            return str(self._index[section])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._row_title
        return None


def _format(value: Any) -> str | None:
    """Cell text; ``None`` for a missing value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        f = float(value)
        if math.isnan(f):
            return None
        return f"{f:.6g}"
    return str(value)
