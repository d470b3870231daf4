"""The window's export call: engine results copied into plain rows, run in the job child process,
and a stop that ends a child stuck in a conversion leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.bridge import child_process, export_calls, long_calls
from ftstudio.engine.export import REPORT_FILE, ExportResult, FormatResult
from ftstudio.engine.export_formats import INSTALL_EXPORT
from ftstudio.engine.export_parity import OutputParity, Parity
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import CancelledError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-epoch MLP run on a 4-feature, 3-class CSV."""
    from ftstudio.engine.training import train

    folder = tmp_path_factory.mktemp("export_calls")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FTSTUDIO_HOME", str(folder / "home"))
        spec = tabular_spec_data(write_tabular_csv(folder / "tab.csv"), name="tab", epochs=2)
        train(ExperimentSpec.from_dict(spec), None, out_dir=folder / "run")
    return folder / "run"


@pytest.fixture(autouse=True)
def _no_idle_child():
    yield
    child_process.shutdown()


def test_export_is_an_allow_listed_long_call() -> None:
    assert child_process.resolve_call("export") is long_calls.run_export
    assert child_process.STOP_GRACE_SECONDS["export"] > 0
    assert "train" not in child_process.STOP_GRACE_SECONDS  # training keeps what it learned


def test_engine_results_become_plain_rows_with_the_install_command(tmp_path: Path) -> None:
    out = tmp_path / "export"
    parity = Parity(split="test", examples=24, total=24, max_abs_diff=6e-8, tolerance=1e-4,
                    passed=True, seconds=1.5,
                    outputs=[OutputParity("label", "classification", 6e-8, "accuracy", 0.75,
                                          0.75, 1.0)])
    missing = f"onnx export needs the 'tf2onnx' package: {INSTALL_EXPORT}"
    result = ExportResult(tmp_path, out, out / REPORT_FILE, results=[
        FormatResult("tflite", "tflite", False, out / "tflite", out / "tflite" / "model.tflite",
                     2668, 0.4, parity),
        FormatResult("onnx", "onnx", export_seconds=0.01, error=missing)])
    outcome = export_calls.export_outcome(result, seconds=3.0)
    assert (outcome.ok, outcome.seconds, outcome.out_dir) == (False, 3.0, str(out))
    good, bad = outcome.rows
    assert good.ok and good.checked and good.install_command is None
    assert (good.max_abs_diff, good.tolerance, good.split, good.examples) == (6e-8, 1e-4,
                                                                              "test", 24)
    assert good.file == str(out / "tflite" / "model.tflite") and good.size_bytes == 2668
    [output] = good.outputs
    assert (output.metric, output.app, output.exported, output.agreement) == ("accuracy", 0.75,
                                                                              0.75, 1.0)
    assert not bad.ok and not bad.checked and bad.file is None and bad.outputs == []
    assert bad.error == missing and bad.install_command == INSTALL_EXPORT


class _StopWhenExporting(RecordingReporter):
    """Asks to stop as soon as the first file is being written."""

    def status(self, text: str) -> None:  # noqa: D102
        super().status(text)
        if text.startswith("Exporting "):
            self.request_stop()


def test_a_stop_ends_a_busy_export_child_and_keeps_nothing(tiny_run: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    # no grace: the child is ended at once, mid-conversion, with its staging folder written
    monkeypatch.setitem(child_process.STOP_GRACE_SECONDS, "export", 0.0)
    out = tmp_path / "out"
    reporter = _StopWhenExporting()
    with pytest.raises(CancelledError):
        export_calls.export_run(str(tiny_run), ["keras", "savedmodel"], str(out),
                                reporter=reporter)
    assert any(text.startswith("Exporting ") for (text,) in reporter.of("status"))
    assert not out.exists()  # neither the staging folder nor the folder made for it is left
    assert export_calls.default_export_dir(str(tiny_run)) == str(tiny_run / "export")
    assert not (tiny_run / "export").exists()
