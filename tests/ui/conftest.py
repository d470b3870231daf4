"""Fixtures for window tests: a styled app, a main window that always joins its threads,
tiny data sets (tabular CSV, image folder + a tiny CNN file) and page screenshots."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.specs import write_image_folder

SCREEN = (1920, 1080)
"""The offscreen platform's screen: as large as the largest size the window tests set (the
default, 800×800, would make the window clamp itself to it)."""


def _offscreen_screen() -> None:
    """Give the offscreen platform a 1920×1080 screen (read when the QApplication starts;
    conftest files are imported before any test creates it)."""
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    config = Path(tempfile.gettempdir()) / f"ftstudio-offscreen-{os.getpid()}.json"
    config.write_text(json.dumps({"screens": [{
        "name": "test", "x": 0, "y": 0, "width": SCREEN[0], "height": SCREEN[1],
        "logicalDpiX": 96, "logicalDpiY": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


_offscreen_screen()

SCREENSHOTS = Path(os.environ.get("FTSTUDIO_SCREENSHOTS",
                                  Path(__file__).resolve().parents[2] / "screenshots"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The offscreen platform warns that it cannot propagate size hints; that is not ours."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))


@pytest.fixture
def styled_app(qapp):  # noqa: ANN001
    from ftstudio.ui.app import create_app

    return create_app()


@pytest.fixture
def window(qtbot, styled_app, tmp_path: Path) -> Iterator:  # noqa: ANN001
    """The main window at 1280x800, runs under tmp; stops and joins every thread after."""
    from ftstudio.bridge import engine_calls
    from ftstudio.ui.main_window import MainWindow

    w = MainWindow(runs_root=str(tmp_path / "runs"))
    w.ask = auto_answer
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    assert w.shutdown(120_000), "a worker thread did not end"
    assert not w.runner.busy
    engine_calls.clear_backbone_cache()


def auto_answer(title: str, text: str, buttons):  # noqa: ANN001, ANN201
    """Answer the window's questions without a modal loop: Yes to "stop training?",
    Discard to "save changes?"."""
    from PySide6.QtWidgets import QMessageBox

    if buttons & QMessageBox.StandardButton.Yes:
        return QMessageBox.StandardButton.Yes
    return QMessageBox.StandardButton.Discard


def wait_engine(qtbot, w, timeout: int = 180_000) -> None:  # noqa: ANN001
    """Start the engine (if needed) and wait until it is ready."""
    w.start_engine()
    qtbot.waitUntil(lambda: w.engine_state in ("ready", "failed"), timeout=timeout)
    assert w.engine_state == "ready", w.engine_error


def open_data(qtbot, w, path: Path) -> None:  # noqa: ANN001
    """Open a CSV file or image folder on the Data page and wait until it is checked."""
    page = w.data_page
    page.open_path(str(path))
    qtbot.waitUntil(lambda: page.preview is not None and Path(page.preview.source) == path
                    and (page.check is not None or bool(page.check_error)), timeout=60_000)
    assert page.check_error is None, page.check_error


def shot(w, name: str) -> Path:  # noqa: ANN001
    """Save a screenshot of the window as ``screenshots/<name>.png``."""
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert w.grab().save(str(path))
    return path


@pytest.fixture(scope="session")
def tabular_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 rows, three well-separated classes, three numeric features and an id column."""
    path = tmp_path_factory.mktemp("data") / "flowers.csv"
    rng = np.random.default_rng(0)
    names = ["setosa", "versicolor", "virginica"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "petal_length", "petal_width", "sepal_length", "species"])
        for i in range(240):
            c = i % 3
            x = rng.normal(2.0 * c, 0.5, 3)
            writer.writerow([i, *[f"{v:.3f}" for v in x], names[c]])
    return path


@pytest.fixture(scope="session")
def image_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An image folder (2 classes x 12 PNGs, 16x16) and a tiny CNN ``.keras`` backbone."""
    import keras

    root = tmp_path_factory.mktemp("images")
    folder = write_image_folder(root / "shapes")

    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv_a", activation="relu")(inp)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.Conv2D(8, 3, name="conv_b", activation="relu")(x)
    out = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model_path = root / "tiny.keras"
    keras.Model(inp, out, name="tinycnn").save(model_path)
    return folder, model_path
