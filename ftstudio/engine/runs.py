"""Run folders: one folder per training, everything needed to inspect or replay it.

Layout (see docs/engine-api.md): ``spec.json``, ``status.json``, ``history.csv``,
``metrics.json``, ``evaluation.json``, ``model.keras``, ``labels.json``, ``splits.json``,
``env.json``, ``preprocessor/`` (text), ``backup/`` (while running, for ``--resume``).

Standard library only, so the window can list runs before TensorFlow loads.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio import config
from ftstudio.errors import RunError

STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
STATUS_STOPPED = "stopped"
STATUS_FAILED = "failed"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def atomic_save(path: Path, writer: Callable[[Path], object], suffix: str = "") -> None:
    """Let ``writer`` write a temp file next to ``path``, then move it into place.

    Keras ``model.save`` is not atomic (a failed write destroys the old file); this is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix,
                               dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "run"


@dataclass
class RunFolder:
    """A run folder on disk. Cheap to create; nothing is read until asked."""

    path: Path

    @classmethod
    def create(cls, name: str, runs_root: Path | None = None) -> RunFolder:
        """Make a fresh, uniquely named run folder ``<root>/<time>-<name>``."""
        root = Path(runs_root) if runs_root else config.runs_dir()
        root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = root / f"{stamp}-{_slug(name)}"
        path, n = base, 1
        while True:
            try:
                path.mkdir(parents=True)
                break
            except FileExistsError:
                n += 1
                path = base.with_name(f"{base.name}-{n}")
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Open an existing run folder (``path`` may also be its ``spec.json``)."""
        p = Path(path)
        if p.is_file() and p.name == "spec.json":
            p = p.parent
        if not p.is_dir():
            raise RunError(f"run folder not found: {p}")
        if not (p / "spec.json").is_file():
            raise RunError(f"{p} is not a run folder (no spec.json)")
        return cls(p)

    # -------------------------------------------------------------- files
    def file(self, name: str) -> Path:
        """Path of a file inside the run folder."""
        return self.path / name

    @property
    def model_path(self) -> Path:
        """The trained model (``model.keras``)."""
        return self.path / "model.keras"

    @property
    def backup_dir(self) -> Path:
        """BackupAndRestore's folder (exists only while a run can be resumed)."""
        return self.path / "backup"

    def write_json(self, name: str, data: Any) -> None:
        """Write ``name`` as JSON, atomically."""
        atomic_write_json(self.path / name, data)

    def read_json(self, name: str, default: Any = None) -> Any:
        """Read ``name`` as JSON; ``default`` when missing."""
        p = self.path / name
        if not p.is_file():
            if default is not None:
                return default
            raise RunError(f"{self.path.name} has no {name}; the run may not have finished")
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"cannot read {p}: {exc}") from exc

    def set_status(self, status: str, **extra: Any) -> None:
        """Record the run's state (running / finished / stopped / failed)."""
        data = {"status": status, "updated": time.strftime("%Y-%m-%d %H:%M:%S"), **extra}
        self.write_json("status.json", data)

    def status(self) -> str:
        """The recorded state, ``unknown`` when missing."""
        try:
            return str(self.read_json("status.json", {}).get("status", "unknown"))
        except RunError:
            return "unknown"

    def history(self) -> list[dict[str, float]]:
        """Rows of ``history.csv`` (one per epoch) as floats."""
        p = self.path / "history.csv"
        if not p.is_file():
            return []
        with p.open(encoding="utf-8", newline="") as fh:
            rows = []
            for row in csv.DictReader(fh):
                rows.append({k: _to_float(v) for k, v in row.items() if k})
            return rows

    def metrics(self) -> dict[str, float]:
        """``metrics.json`` ({} when missing)."""
        return dict(self.read_json("metrics.json", {}))


def _to_float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


@dataclass
class RunSummary:
    """One line of the runs list."""

    path: Path
    name: str
    status: str
    created: float
    metrics: dict[str, float] = field(default_factory=dict)


def list_runs(runs_root: str | Path | None = None) -> list[RunSummary]:
    """Every run folder under ``runs_root``, newest first."""
    root = Path(runs_root) if runs_root else config.runs_dir()
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        if not (p / "spec.json").is_file():
            continue
        run = RunFolder(p)
        try:
            name = json.loads((p / "spec.json").read_text(encoding="utf-8")).get("name", p.name)
        except (OSError, json.JSONDecodeError):
            name = p.name
        try:
            metrics = run.metrics()
        except RunError:
            metrics = {}
        out.append(RunSummary(p, str(name), run.status(), p.stat().st_mtime, metrics))
    out.sort(key=lambda r: (r.created, r.path.name), reverse=True)
    return out


def find_resumable(spec_name: str, runs_root: str | Path | None = None) -> Path | None:
    """The newest unfinished run of ``spec_name`` that still has a backup to resume from."""
    for run in list_runs(runs_root):
        if run.name == spec_name and run.status in (STATUS_RUNNING, STATUS_FAILED) and \
                (run.path / "backup").is_dir():
            return run.path
    return None
