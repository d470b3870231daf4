"""The window on a laptop screen and on a large one: every page usable, nothing off-screen.

The window is set to each size; on every page the main actions must be on screen (inside the
window, not scrolled or clipped away), enabled, and no page may scroll sideways. A geometry
remembered from a larger screen is clamped to the screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QScrollArea, QWidget

from tests.ui.conftest import SCREEN, open_data, shot

pytestmark = pytest.mark.gui

SIZES = [(1024, 640), (1280, 800), (1920, 1080)]
"""Window sizes: a small laptop (maximised), the usual 1280×800, a full-HD monitor."""


def main_actions(w) -> dict[str, list[QWidget]]:  # noqa: ANN001
    """Per page, the widgets a user must be able to reach at once."""
    d, m, t = w.data_page, w.model_page, w.train_page
    return {
        "data": [d.open_csv_btn, d.open_images_btn, d.columns.label_combo, d.columns.task_combo],
        "model": [m.backbone.combo, m.rebuild_btn, m.layers.filter_edit,
                  m.head_builder.add_buttons["dense"]],
        "train": [t.start_btn, t.form.recommend_btn, t.form.run_name, t.form.epochs],
        "evaluate": [w.evaluate_page.header],
        "runs": [w.runs_page.refresh_btn, w.runs_page.table],
        "library": [w.library_page.import_file_button, w.library_page.import_folder_button,
                    w.library_page.download_button, w.library_page.verify_button],
        "pretrain": [w.pretrain_page.browse_button, w.pretrain_page.start_button],
    }


def on_screen(widget: QWidget, window: QWidget) -> bool:
    """Whether all of ``widget`` is inside the window and inside every scroll area around it."""
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    if not window.rect().contains(rect):
        return False
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        if isinstance(parent, QAbstractScrollArea):
            view = parent.viewport()
            shown = QRect(view.mapTo(window, QPoint(0, 0)), view.size())
            if not shown.contains(rect):
                return False
        parent = parent.parentWidget()
    return True


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_fits_and_its_main_actions_work(qtbot, window, tabular_csv: Path,
                                                   size: tuple[int, int]) -> None:
    w = window
    w.finish_setup()
    open_data(qtbot, w, tabular_csv)
    qtbot.wait(450)  # past the window's own clamp to the screen, shortly after it showed
    w.resize(*size)
    QApplication.processEvents()
    assert (w.width(), w.height()) == size
    assert w.minimumSizeHint().width() <= 1016 and w.minimumSizeHint().height() <= 560
    for page, widgets in main_actions(w).items():
        w.go_to(page)
        QApplication.processEvents()
        holder = w.stack.currentWidget()
        assert isinstance(holder, QScrollArea)
        assert not holder.horizontalScrollBar().isVisible(), f"{page} scrolls sideways"
        for widget in widgets:
            name = widget.objectName() or type(widget).__name__
            assert widget.isVisible(), f"{page}: {name} hidden"
            assert widget.isEnabled(), f"{page}: {name} disabled"
            assert on_screen(widget, w), f"{page}: {name} off screen at {size}"
        shot(w, f"size_{size[0]}x{size[1]}_{page}")
    assert on_screen(w.statusBar(), w) and on_screen(w.engine.label, w)


def test_remembered_geometry_is_clamped_to_the_screen(qtbot, styled_app, tmp_path) -> None:  # noqa: ANN001
    from ftstudio.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    big = MainWindow(settings=settings)
    qtbot.addWidget(big)
    big.setGeometry(SCREEN[0] - 300, SCREEN[1] - 200, SCREEN[0] + 700, SCREEN[1] + 600)
    big.save_geometry()
    big.shutdown()

    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w._shown_once)
    qtbot.wait(500)  # the clamp after the window manager framed the window
    screen = w.screen().availableGeometry()
    frame = w.frameGeometry()
    assert screen.contains(frame), (frame, screen)
    assert w.width() <= SCREEN[0] and w.height() <= SCREEN[1]

    # a window made larger than the screen and pushed off it comes back whole
    from ftstudio.ui.window_geometry import clamp_to_screen

    w.showNormal()
    w.resize(SCREEN[0] + 900, SCREEN[1] + 500)
    w.move(700, 600)
    assert clamp_to_screen(w)
    assert screen.contains(w.frameGeometry()), (w.frameGeometry(), screen)
    w.shutdown()
