"""The Export page: a tiny run exported through the job child process with a checked row per
file; a failing format shown as an error with its install command; a run that cannot be
exported and a stop, each said on the page. Screenshots at 1280x800 and 1024x640."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv
from tests.ui.conftest import shot

pytestmark = pytest.mark.gui

ALL_FILES = ["keras", "savedmodel", "tflite", "tflite-int8", "onnx"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-epoch MLP run on a 4-feature, 3-class CSV."""
    from ftstudio.engine.training import train

    folder = tmp_path_factory.mktemp("export_page")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FTSTUDIO_HOME", str(folder / "home"))
        spec = tabular_spec_data(write_tabular_csv(folder / "tab.csv"), name="tiny-tab",
                                 epochs=2)
        train(ExperimentSpec.from_dict(spec), None, out_dir=folder / "run")
    return folder / "run"


@pytest.fixture()
def page(qtbot, styled_app, monkeypatch):  # noqa: ANN001
    """The page alone, its jobs in threads (so a test may patch the engine)."""
    from ftstudio.bridge.jobs import JobRunner
    from ftstudio.ui.pages.export_page import ExportPage

    monkeypatch.setenv("FTSTUDIO_TRAIN_IN_THREAD", "1")
    runner = JobRunner()
    p = ExportPage(runner)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    yield p
    p.shutdown()
    assert runner.wait_all(120_000)


def _export(qtbot, page, run: Path, formats: list[str], out: Path,  # noqa: ANN001
            quantize: bool = False) -> None:
    page.set_run(str(run))
    for fmt, box in page.format_checks.items():
        box.setChecked(fmt in formats)
    page.int8_check.setChecked(quantize)
    page.out_edit.setText(str(out))
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    assert page.is_running() and page.stop_button.isEnabled()
    assert not page.export_button.isEnabled() and not page.run_combo.isEnabled()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=300_000)


def _cell(page, row: int, col: int) -> str:  # noqa: ANN001
    return page.results.table.item(row, col).text()


def test_a_run_exports_in_the_child_process_with_a_checked_row_per_file(
        qtbot, window, tiny_run: Path, tmp_path: Path) -> None:
    w = window
    assert "export" in w.pages and w.sidebar.pages.count() == len(w.pages)
    w.go_to("export")
    page = w.export_page
    assert w.current_page() == "export"
    out = tmp_path / "exported"
    _export(qtbot, page, tiny_run, ["keras", "savedmodel", "tflite", "onnx"], out,
            quantize=True)
    assert page.last_error == "", page.last_error
    outcome = page.results.outcome
    assert outcome is not None and outcome.ok and outcome.out_dir == str(out)
    assert [r.key for r in outcome.rows] == ALL_FILES
    table = page.results.table
    assert table.rowCount() == len(ALL_FILES) and table.isVisible()
    for i, row in enumerate(outcome.rows):
        assert row.checked and row.max_abs_diff is not None
        if not row.quantized:
            assert row.max_abs_diff <= row.tolerance
            assert _cell(page, i, 1) == "✓ passed" and " ≤ " in _cell(page, i, 4)
        assert Path(row.file).exists() and row.size_bytes > 0
        assert row.outputs[0].metric == "accuracy" and "→" in _cell(page, i, 5)
        assert row.outputs[0].agreement == 1.0
    assert Path(outcome.report_path).is_file()
    header = table.horizontalHeaderItem(5).text()
    assert header == "Accuracy\nstudio → file"  # one metric: named once, in the header
    assert not page.results.errors.isVisible()
    assert "All 5 files predict what the studio predicts" in page.results.summary.text()
    assert page.export_button.isEnabled() and not page.stop_button.isEnabled()

    w.resize(1280, 800)
    shot(w, "08_export")
    w.resize(1024, 640)
    QGuiApplication.processEvents()
    scroll = w.stack.currentWidget()
    assert not scroll.horizontalScrollBar().isVisible()  # the page fits the width
    shot(w, "08_export_1024")


def test_a_failing_format_is_an_error_with_its_install_command(
        qtbot, page, tiny_run: Path, tmp_path: Path, monkeypatch) -> None:
    from ftstudio.engine import export as engine_export
    from ftstudio.engine.export_formats import INSTALL_EXPORT

    message = f"onnx export needs the 'tf2onnx' package: {INSTALL_EXPORT}"
    monkeypatch.setattr(engine_export, "missing_dependency",
                        lambda fmt: message if fmt == "onnx" else None)
    out = tmp_path / "exported"
    _export(qtbot, page, tiny_run, ["keras", "onnx"], out)
    outcome = page.results.outcome
    assert outcome is not None and not outcome.ok
    assert [(r.key, r.ok) for r in outcome.rows] == [("keras", True), ("onnx", False)]
    assert _cell(page, 1, 1) == "✗ failed" and _cell(page, 1, 7) == "not saved"
    assert page.results.error_texts() == [message]
    assert page.results.errors.isVisible()
    shown = "\n".join(label.text() for label in page.results.errors.findChildren(QLabel))
    assert "<b>✗ ONNX:</b> onnx export needs the 'tf2onnx' package" in shown
    assert "pip install 'tf2onnx" in shown
    assert "1 of 2 failed: ONNX" in page.results.summary.text()
    assert sorted(p.name for p in out.iterdir()) == ["export_report.json", "keras"]
    shot(page, "08_export_failed")
    from ftstudio.ui.pages.export_parts import _InstallCommand

    [install] = page.results.errors.findChildren(_InstallCommand)
    qtbot.mouseClick(install.copy_btn, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == (
        "pip install 'tf2onnx>=1.17,<1.18' 'onnxruntime>=1.20' 'ai-edge-litert>=2.0'")


def test_a_folder_without_a_model_says_why_on_the_page(qtbot, page, tmp_path: Path) -> None:
    raised: list = []
    page.errorRaised.connect(raised.append)
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    _export(qtbot, page, empty, ["keras"], tmp_path / "out")
    assert page.last_error and page.results.outcome is None
    assert page.results.errors.isVisible()
    assert "did not run" in page.results.summary.text()
    assert page.last_error.split(":")[0] in page.status_label.text()
    assert raised == []  # a user error is said on the page, not in a bug dialog


class _StopOnExporting(QObject):
    """Presses Stop when the page says it is writing the first file."""

    def __init__(self, page) -> None:  # noqa: ANN001
        super().__init__()
        self.page = page

    @Slot(str)
    def on_status(self, text: str) -> None:
        if text.startswith("Exporting "):
            self.page.stop()


def test_stop_ends_the_export_and_keeps_nothing(qtbot, page, tiny_run: Path,
                                                tmp_path: Path) -> None:
    stopper = _StopOnExporting(page)
    page.reporter.statusChanged.connect(stopper.on_status)
    out = tmp_path / "stopped"
    _export(qtbot, page, tiny_run, ["keras", "savedmodel", "tflite"], out)
    assert "Stopped" in page.status_label.text() and page.results.outcome is None
    assert not out.exists()  # nothing of a stopped export is kept


def test_finished_runs_are_listed_and_the_last_one_is_picked(qtbot, page,
                                                             tiny_run: Path) -> None:
    page.runs_root = str(tiny_run.parent)
    page.refresh_runs()
    qtbot.waitUntil(lambda: page.run_combo.count() > 0, timeout=30_000)
    assert page.run_path() == str(tiny_run)
    assert page.run_combo.currentText().startswith("tiny-tab · MLP · ")
    assert str(tiny_run / "export") in page.out_edit.placeholderText()
    page.set_run(str(tiny_run / "elsewhere"))  # a folder the list does not hold goes on top
    assert page.run_combo.currentIndex() == 0 and page.run_path().endswith("elsewhere")
    page.refresh_runs()
    qtbot.waitUntil(lambda: not page.jobs.is_running("list"), timeout=30_000)
    assert page.run_combo.count() == 2 and page.run_path().endswith("elsewhere")
