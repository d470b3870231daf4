"""The window on small and large screens: pages that scroll, a size that fits the screen.

Every page sits in a scroll area, so a page taller (or wider) than the window scrolls instead of
pushing the window's minimum size past a laptop screen. The remembered geometry is restored and
then clamped to the screen the window is on: a size saved on a large monitor never leaves part
of the window (and its buttons) off a smaller one.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QRect, QSettings, QSize, Qt
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import QScrollArea, QWidget

__all__ = ["DEFAULT_SIZE", "FRAME_ALLOWANCE", "MINIMUM_SIZE", "PageScroll", "available_geometry",
           "clamp_to_screen", "restore_geometry", "save_geometry", "scrolling"]

DEFAULT_SIZE = QSize(1280, 800)
"""The first size of the window (smaller screens get their available size instead)."""
MINIMUM_SIZE = QSize(800, 520)
"""The smallest window every page still works in (a 1024×640 screen leaves ~1016×570)."""
GEOMETRY_KEY = "window/geometry"
FRAME_ALLOWANCE = QSize(16, 48)
"""Room a window manager's frame and title bar may take (known only once on screen)."""


class PageScroll(QScrollArea):
    """A frameless scroll area that gives its page all the room there is, and no more.

    The page fills the area while the area is larger than the page's minimum size, and scrolls
    when it is smaller. (``widgetResizable`` would size a page whose layout has a
    height-for-width, wrapping labels for instance, to its *preferred* height: charts would
    grow taller than the window and the page would scroll for nothing.)

    Args:
        page: the page to show.
    """

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.setObjectName(f"{page.objectName() or 'page'}Scroll")
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(page)
        page.installEventFilter(self)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802, D102
        super().resizeEvent(event)
        self.fit_page()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802, D102
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit_page()
        return super().eventFilter(watched, event)

    def fit_page(self) -> None:
        """Size the page: the viewport, or its minimum size where that is larger."""
        page = self.widget()
        if page is None:
            return
        view = self.viewport().size()
        minimum = page.minimumSizeHint().expandedTo(page.minimumSize())
        width = max(view.width(), minimum.width())
        height = minimum.height()
        layout = page.layout()
        if layout is not None and layout.hasHeightForWidth():
            height = max(height, layout.minimumHeightForWidth(width))
        # the vertical scroll bar takes width from the page when it appears
        if height > view.height() and width == view.width():
            width = max(minimum.width(), width - self.verticalScrollBar().sizeHint().width())
            if layout is not None and layout.hasHeightForWidth():
                height = max(height, layout.minimumHeightForWidth(width))
        page.resize(width, max(view.height(), height))


def scrolling(page: QWidget) -> QScrollArea:
    """Put ``page`` in a :class:`PageScroll` (it scrolls only when the window is too small)."""
    return PageScroll(page)


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
    """Restore the remembered size and position, clamped to the screen (default 1280×800).

    A window that would fill (or overflow) the screen starts maximised instead: the window
    manager then fits it, title bar and panels included, whatever their size.
    """
    geometry = settings.value(GEOMETRY_KEY)
    restored = isinstance(geometry, QByteArray) and not geometry.isEmpty() and \
        window.restoreGeometry(geometry)
    avail = available_geometry(window)
    if not restored:
        window.resize(min(DEFAULT_SIZE.width(), avail.width()),
                      min(DEFAULT_SIZE.height(), avail.height()))
    if window.isMaximized():
        return
    fills = window.width() >= avail.width() - FRAME_ALLOWANCE.width() or \
        window.height() >= avail.height() - FRAME_ALLOWANCE.height()
    clamp_to_screen(window)
    if fills:
        window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)


def save_geometry(window: QWidget, settings: QSettings) -> None:
    """Remember the window's size and position."""
    settings.setValue(GEOMETRY_KEY, window.saveGeometry())
    settings.sync()
