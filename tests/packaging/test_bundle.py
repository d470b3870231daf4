"""The real thing: `make package`, then the bundle's self-test as an installer user runs it.

Marked ``packaging`` and left out of the default run (pyproject.toml): the build takes ~3 min
on 2 cores, the checks after it ~3 min more. Run it with

    .venv/bin/python -m pytest -m packaging tests/packaging -q -p no:cacheprovider

Every run of the bundle happens in an empty environment (``env -i``: no PYTHONPATH, no venv on
PATH), with an empty HOME, from a folder outside the checkout and, where ``unshare -n`` is
allowed, with no network at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(3600)]

BUNDLE = ROOT / "dist" / "ftstudio"
MAX_UNPACKED_BYTES = int(1.3 * 2**30)
"""The issue's targets: 1.3 GB unpacked, 450 MB compressed (GB as ``du -h`` counts them)."""
MAX_COMPRESSED_BYTES = 450 * 2**20
SELF_TEST_SECONDS = 60.0


@pytest.fixture(scope="module")
def bundle() -> Iterator[Path]:
    """Build the bundle with ``make package`` (once for the module)."""
    done = subprocess.run(["make", "package"], cwd=ROOT, capture_output=True, text=True,
                          timeout=3000)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (BUNDLE / "ftstudio").is_file()
    yield BUNDLE


def _no_network_prefix() -> list[str]:
    """``unshare -n`` where this user may make a network namespace, else nothing."""
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "-n", "true"], capture_output=True, timeout=30).returncode == 0:
        return ["unshare", "-n"]
    return []


def run_clean(command: list[str], home: Path, cwd: Path, timeout: float = 900,
              shell_redirect: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``command`` with no network, an empty environment and ``home`` as HOME."""
    if shell_redirect:
        command = ["sh", "-c", 'exec "$@" ' + shell_redirect, "sh", *command]
    full = [*_no_network_prefix(), "env", "-i", f"HOME={home}", *command]
    return subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("ftstudio-selftest-")}


def test_bundle_size(bundle: Path) -> None:
    unpacked = sum(p.lstat().st_size for p in bundle.rglob("*"))
    tarballs = sorted(bundle.parent.glob("ftstudio-*-linux-*.tar.zst"))
    assert tarballs, "make package wrote no tarball"
    compressed = tarballs[-1].stat().st_size
    print(f"bundle {unpacked / 1e6:.0f} MB unpacked, {compressed / 1e6:.0f} MB compressed")
    assert unpacked <= MAX_UNPACKED_BYTES
    assert compressed <= MAX_COMPRESSED_BYTES


def test_self_test_passes_offline_twice(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    system_tmp = Path(tempfile.gettempdir())
    before = _leftovers(system_tmp)
    for attempt in (1, 2):
        done = run_clean([str(bundle / "ftstudio"), "--self-test"], home, cwd=tmp_path)
        print(done.stdout)
        assert done.returncode == 0, f"run {attempt}:\n{done.stdout}\n{done.stderr[-3000:]}"
        assert "All 4 checks passed" in done.stdout
        assert "in a child process" in done.stdout  # the frozen app's training child
        assert "main() thread" not in done.stderr  # the window is made in Qt's main thread
        seconds = float(done.stdout.rsplit(" in ", 1)[1].split(" s")[0])
        assert seconds <= SELF_TEST_SECONDS * 2, f"the self-test took {seconds:.0f} s"
        assert not list(home.iterdir()), f"the self-test wrote into HOME: {list(home.iterdir())}"
        assert _leftovers(system_tmp) == before, "the self-test left its temporary folder"


def test_self_test_without_stdout_and_stderr(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    report = tmp_path / "report.txt"
    done = run_clean([str(bundle / "ftstudio"), "--self-test", "--only", "tabular,export",
                      "--report", str(report)], home, cwd=tmp_path, shell_redirect="1>&- 2>&-")
    assert done.returncode == 0, report.read_text() if report.exists() else done.stderr
    assert "All 2 checks passed" in report.read_text()


def test_a_failing_check_is_reported(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # without the tabular run the export check has nothing to export: it must say so
    done = run_clean([str(bundle / "ftstudio"), "--self-test", "--only", "export"], home,
                     cwd=tmp_path)
    assert done.returncode == 1
    assert "export   FAILED" in done.stdout and "tabular check's run" in done.stdout


def test_tarball_installs_and_runs(bundle: Path, tmp_path: Path) -> None:
    tarball = sorted(bundle.parent.glob("ftstudio-*-linux-*.tar.zst"))[-1]
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(tarball), "-C", str(unpacked)], check=True,
                   timeout=600)
    home = tmp_path / "home"
    home.mkdir()
    done = run_clean([str(unpacked / "ftstudio" / "install.sh")], home, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(unpacked)  # the installed copy must not need the unpacked folder
    installed = home / ".local" / "bin" / "ftstudio"
    done = run_clean([str(installed), "--version"], home, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "ftstudio " + _version()
    entry = home / ".local" / "share" / "applications" / "ftstudio.desktop"
    assert os.fspath(home / ".local" / "opt" / "ftstudio" / "ftstudio") in entry.read_text()


def _version() -> str:
    from ftstudio import __version__

    return __version__


def _write_flowers(folder: Path) -> Path:
    """A tiny three-class numeric CSV and its spec (no backbone, 2 epochs)."""
    import json

    rows = ["a,b,species"]
    for i in range(90):
        c = i % 3
        rows.append(f"{c + (i % 7) / 10:.2f},{2 * c - (i % 5) / 10:.2f},{'xyz'[c]}")
    data = folder / "flowers.csv"
    data.write_text("\n".join(rows) + "\n")
    spec = folder / "spec.json"
    spec.write_text(json.dumps({
        "name": "flowers", "data": {"path": str(data), "feature_columns": ["a", "b"],
                                    "label_column": "species"},
        "backbone": {"source": "none"},
        "training": {"epochs": 2, "batch_size": 16, "optimizer": "adam",
                     "learning_rate": 0.01, "baseline": False}}))
    return spec


def test_the_bundle_runs_the_data_loop_and_a_sweep(bundle: Path, tmp_path: Path) -> None:
    """The commands whose libraries arrived after the first bundle: Optuna's sweeps and
    scikit-learn's cross-validated label review, frozen and offline."""
    home = tmp_path / "home"
    home.mkdir()
    spec = _write_flowers(tmp_path)
    app = str(bundle / "ftstudio")
    done = run_clean([app, "sweep", str(spec), "--trials", "2", "--out",
                      str(tmp_path / "sweep")], home, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert len(list((tmp_path / "sweep").glob("trial*"))) == 2, done.stdout
    done = run_clean([app, "labels", str(spec), "--top", "5", "--json"], home, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    done = run_clean([app, "check", str(spec)], home, cwd=tmp_path)
    assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-3000:]
    assert "examples" in done.stdout
