"""Small pictures of image files for tables: decoded at thumbnail size, cached.

Every table that shows images (the Data preview, the evaluation drill-down, the label review
and the label-next list) reads its pictures here, so a large photo is never decoded at full
size just to be shown at 48 pixels.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

__all__ = ["THUMB", "load_thumbnail", "read_thumbnail", "short_path", "show_thumbnail"]

THUMB = 48
"""The side of a table thumbnail, in pixels."""
_MAX_CACHED = 3000
_cache: dict[tuple[str, int], QPixmap] = {}


def read_thumbnail(path: str, size: int = THUMB) -> QPixmap:
    """Decode the image file at ``path`` scaled to fit ``size`` x ``size`` (not cached).

    Returns:
        The picture, or an empty pixmap when the file cannot be read.
    """
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and full.width() > 0 and full.height() > 0:
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return QPixmap.fromImage(image) if not image.isNull() else QPixmap()


def load_thumbnail(path: str, size: int = THUMB) -> QPixmap:
    """:func:`read_thumbnail`, cached by path and size (an empty pixmap when unreadable)."""
    key = (path, size)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    pixmap = read_thumbnail(path, size)
    if len(_cache) >= _MAX_CACHED:
        _cache.clear()
    _cache[key] = pixmap
    return pixmap


def short_path(path: str) -> str:
    """An image's folder and file name, such as ``cat/img_001.jpg``.

    That is what tells images of one data folder apart in a list, without their long common
    prefix (the full path goes in the tooltip).
    """
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else path


def show_thumbnail(table: QTableWidget, row: int, column: int, path: str) -> None:
    """Put the thumbnail of ``path`` in a table cell (the cell keeps its text).

    The cell's tooltip becomes the full path. The table's icon size and the row's height grow
    to the thumbnail size, so the picture is shown whole; an unreadable file gets no picture.
    """
    item = table.item(row, column)
    if item is None:
        item = QTableWidgetItem("")
        table.setItem(row, column, item)
    item.setToolTip(path)
    pixmap = load_thumbnail(path)
    if pixmap.isNull():
        return
    item.setIcon(QIcon(pixmap))
    table.setIconSize(QSize(THUMB, THUMB))
    table.setRowHeight(row, max(table.rowHeight(row), THUMB + 6))
