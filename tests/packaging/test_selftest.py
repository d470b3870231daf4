"""``ftstudio --self-test`` from the source checkout: its report, its sandbox, and a real run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio import config, selftest
from ftstudio.errors import DataError
from tests.packaging.conftest import ROOT


def test_run_checks_reports_every_failure_and_goes_on(tmp_path: Path) -> None:
    ran: list[str] = []

    def passes(ws: selftest.Workspace) -> str:
        ran.append("passes")
        return "all good"

    def user_error(ws: selftest.Workspace) -> str:
        ran.append("user_error")
        raise DataError("the CSV has no rows")

    def bug(ws: selftest.Workspace) -> str:
        ran.append("bug")
        return {}["missing"]  # type: ignore[no-any-return]

    checks = {"passes": passes, "user_error": user_error, "bug": bug}
    out = io.StringIO()
    ws = selftest.Workspace(tmp_path, tmp_path / "data", tmp_path / "runs")
    results = selftest.run_checks(ws, ["user_error", "bug", "passes"], out, checks=checks)
    assert ran == ["user_error", "bug", "passes"]
    assert [(r.name, r.ok) for r in results] == [("user_error", False), ("bug", False),
                                                 ("passes", True)]
    lines = out.getvalue().splitlines()
    assert "FAILED" in lines[0] and lines[0].endswith("the CSV has no rows")
    assert "KeyError: 'missing' (at test_selftest.py:" in lines[1]
    assert "ok" in lines[2] and lines[2].endswith("all good")


def test_background_checks_run_beside_the_others_and_report_in_order(tmp_path: Path) -> None:
    import threading

    first_done = threading.Event()
    prepared: list[bool] = []

    def background(ws: selftest.Workspace) -> str:
        # ends only once the first foreground check ran: proves the two overlap
        assert first_done.wait(30), "the foreground checks waited for the background one"
        return "bg"

    def first(ws: selftest.Workspace) -> str:
        first_done.set()
        return "one"

    checks = {"first": first, "background": background, "last": lambda ws: "two"}
    out = io.StringIO()
    ws = selftest.Workspace(tmp_path, tmp_path / "data", tmp_path / "runs")
    results = selftest.run_checks(ws, ["first", "background", "last"], out, checks=checks,
                                  background=frozenset({"background"}),
                                  prepare=lambda: prepared.append(first_done.is_set()))
    assert [(r.name, r.ok, r.detail) for r in results] == [
        ("first", True, "one"), ("background", True, "bg"), ("last", True, "two")]
    assert prepared == [False]  # before the foreground checks
    assert [line.split()[0] for line in out.getvalue().splitlines()] == [
        "first", "background", "last"]


def test_sandbox_points_every_user_folder_inside_and_cleans_up() -> None:
    outside = dict(os.environ)
    with selftest.sandbox() as ws:
        root = ws.root
        assert config.ftstudio_home().is_relative_to(root)
        assert config.runs_dir().is_relative_to(root)
        for name in ("HOME", "KERAS_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "TMPDIR"):
            assert Path(os.environ[name]).is_relative_to(root), name
        assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
        import tempfile

        assert Path(tempfile.mkdtemp()).is_relative_to(root)
    assert not root.exists()
    assert dict(os.environ) == outside
    with selftest.sandbox(keep=True) as ws:
        kept = ws.root
    assert kept.is_dir()
    import shutil

    shutil.rmtree(kept)


def test_unknown_check_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--only", "tabular,bogus"]) == 2
    assert "unknown check 'bogus'" in capsys.readouterr().err


def test_export_without_the_tabular_run_says_why(tmp_path: Path) -> None:
    ws = selftest.Workspace(tmp_path, tmp_path / "data", tmp_path / "runs")
    with pytest.raises(RuntimeError, match="tabular check's run"):
        selftest.check_export(ws)


@pytest.mark.slow
def test_self_test_from_source_passes_and_writes_only_its_temp_folder(tmp_path: Path) -> None:
    home, tmp, cwd = tmp_path / "home", tmp_path / "tmp", tmp_path / "cwd"
    for folder in (home, tmp, cwd):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTSTUDIO_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(ROOT))
    report = tmp_path / "report.txt"
    done = subprocess.run([sys.executable, "-m", "ftstudio", "--self-test", "--report",
                           str(report)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    text = report.read_text()
    assert text == done.stdout
    assert "All 4 checks passed" in text and "MiniLM" in text and "savedmodel" in text
    assert "main() thread" not in done.stderr  # the window is made in Qt's main thread
    assert not list(home.iterdir()) and not list(tmp.iterdir()) and not list(cwd.iterdir())
