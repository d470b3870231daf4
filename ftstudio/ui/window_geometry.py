"""The window on small and large screens: pages that scroll, a size that fits the screen.

Every page sits in a scroll area, so a page taller (or wider) than the window scrolls instead of
pushing the window's minimum size past a laptop screen. The remembered geometry is restored and
then clamped to the screen the window is on: a size saved on a large monitor never leaves part
of the window (and its buttons) off a smaller one.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSettings, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QScrollArea, QWidget

__all__ = ["DEFAULT_SIZE", "MINIMUM_SIZE", "clamp_to_screen", "restore_geometry",
           "save_geometry", "scrolling"]

DEFAULT_SIZE = QSize(1280, 800)
"""The first size of the window (smaller screens get their available size instead)."""
MINIMUM_SIZE = QSize(800, 520)
"""The smallest window every page still works in (a 1024×640 screen leaves ~1016×570)."""
GEOMETRY_KEY = "window/geometry"


def scrolling(page: QWidget) -> QScrollArea:
    """Put ``page`` in a frameless scroll area that gives it all the room there is.

    The page fills the area while the area is larger than the page's minimum size, and scrolls
    when it is smaller.
    """
    holder = QScrollArea()
    holder.setObjectName(f"{page.objectName() or 'page'}Scroll")
    holder.setWidgetResizable(True)
    holder.setFrameShape(QScrollArea.Shape.NoFrame)
    holder.setWidget(page)
    return holder


def available_geometry(window: QWidget) -> QRect:
    """The part of the window's screen that windows may use (no panels, no docks)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 800)


def clamp_to_screen(window: QWidget) -> bool:
    """Shrink and move ``window`` so that all of it, frame included, lies on its screen.

    Returns:
        True when the geometry changed.
    """
    if window.isMaximized() or window.isFullScreen():
        return False
    avail = available_geometry(window)
    frame = window.frameGeometry()
    inner = window.geometry()
    extra_w = max(0, frame.width() - inner.width())
    extra_h = max(0, frame.height() - inner.height())
    width = min(inner.width(), avail.width() - extra_w)
    height = min(inner.height(), avail.height() - extra_h)
    changed = (width, height) != (inner.width(), inner.height())
    if changed:
        window.resize(max(width, 1), max(height, 1))
    frame = window.frameGeometry()
    x = min(max(frame.x(), avail.left()), avail.right() + 1 - frame.width())
    y = min(max(frame.y(), avail.top()), avail.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(max(x, avail.left()), max(y, avail.top()))
        changed = True
    return changed


def restore_geometry(window: QWidget, settings: QSettings) -> None:
    """Restore the remembered size and position, clamped to the screen (default 1280×800)."""
    geometry = settings.value(GEOMETRY_KEY)
    if not (isinstance(geometry, QByteArray) and not geometry.isEmpty()
            and window.restoreGeometry(geometry)):
        avail = available_geometry(window)
        window.resize(min(DEFAULT_SIZE.width(), avail.width()),
                      min(DEFAULT_SIZE.height(), avail.height()))
    clamp_to_screen(window)


def save_geometry(window: QWidget, settings: QSettings) -> None:
    """Remember the window's size and position."""
    settings.setValue(GEOMETRY_KEY, window.saveGeometry())
    settings.sync()
