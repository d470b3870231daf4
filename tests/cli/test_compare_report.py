"""``ftstudio compare`` and ``ftstudio report``: text, JSON, HTML, and their user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ftstudio.cli import EXIT_USER_ERROR, main
from tests.helpers.eval_runs import trained_run


def test_compare_three_runs_as_text_and_json(capsys) -> None:
    runs = [str(trained_run(k)) for k in ("tabular", "regression", "text")]
    assert main(["compare", *runs]) == 0
    out = capsys.readouterr().out
    for title in ("Runs:", "Metrics (* = best):", "Histories:", "Spec keys that differ:"):
        assert title in out
    assert "head.outputs[0].task" in out and "regression" in out
    assert "test.mae" in out and "test.accuracy" in out
    assert main(["compare", *runs, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in data["runs"]] == runs
    rows = {m["key"]: m for m in data["metrics"]}
    assert rows["test.accuracy"]["values"][1] is None and rows["test.mae"]["best"] is None
    assert any(d["key"] == "name" for d in data["spec_differences"])


def test_compare_needs_two_run_folders(tmp_path: Path, capsys) -> None:
    assert main(["compare", str(trained_run("tabular"))]) == EXIT_USER_ERROR
    assert "two or more" in capsys.readouterr().err
    assert main(["compare", str(trained_run("tabular")), str(tmp_path)]) == EXIT_USER_ERROR
    assert "not a run folder" in capsys.readouterr().err


def test_report_writes_one_html_file(tmp_path: Path, capsys) -> None:
    from ftstudio.engine.report import SECTIONS

    out = tmp_path / "report.html"
    assert main(["report", str(trained_run("tabular")), "--out", str(out)]) == 0
    assert f"Report written: {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert all(f'<section id="{s}">' in text for s in SECTIONS)
    assert main(["report", str(tmp_path / "nope")]) == EXIT_USER_ERROR


def test_compare_and_report_start_without_tensorflow(tmp_path: Path) -> None:
    code = ("import sys; from ftstudio.cli import main; "
            f"rc = main(['report', {str(trained_run('tabular'))!r}, '--out', "
            f"{str(tmp_path / 'r.html')!r}]); "
            "assert 'tensorflow' not in sys.modules, 'imported TensorFlow'; sys.exit(rc)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
