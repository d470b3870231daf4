"""Run folders: one folder per training, everything needed to inspect or replay it.

Layout (see docs/engine-api.md): ``spec.json``, ``status.json``, ``history.csv``,
``metrics.json``, ``evaluation.json``, ``model.keras``, ``labels.json``, ``splits.json``,
``env.json``, ``preprocessor/`` (text), ``backup/`` (while running, for ``--resume``).

Standard library only, so the window can list runs before TensorFlow loads.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio import config
from ftstudio.engine.run_files import (
    atomic_save,
    atomic_write_json,
    atomic_write_text,
    remove_temp_files,
    storage_error,
)
from ftstudio.engine.run_lock import LOCK_FILE, RunLock, lock_holder
from ftstudio.errors import RunError, StorageError

__all__ = [
    "STATUS_DIVERGED", "STATUS_FAILED", "STATUS_FINISHED", "STATUS_INTERRUPTED",
    "STATUS_RUNNING", "STATUS_STOPPED", "RunFolder", "RunSummary", "atomic_save",
    "atomic_write_json", "atomic_write_text", "backup_epoch", "find_resumable", "history_text",
    "list_runs", "read_backup_stamp", "read_history_rows", "stamp_backup",
]

STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
STATUS_STOPPED = "stopped"
STATUS_FAILED = "failed"
STATUS_DIVERGED = "diverged"
"""The loss exploded; the last good weights are kept (``model.keras``) and can be resumed."""
STATUS_INTERRUPTED = "interrupted"
"""Never written: a run recorded as running whose writer no longer holds the folder's lock."""

HEARTBEAT_SECONDS = 30.0
"""How often a running run refreshes the heartbeat in ``status.json``."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "run"


@dataclass
class RunFolder:
    """A run folder on disk. Cheap to create; nothing is read until asked.

    A writer (training, re-evaluation) takes the folder's lock with :meth:`lock` first;
    readers never need it. ``status.json`` records the state with the writer's process id and
    a heartbeat; :meth:`state` tells a live run from one whose writer died ("interrupted").
    """

    path: Path
    _lock: RunLock | None = field(default=None, repr=False, compare=False)
    _status: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _last_beat: float = field(default=0.0, repr=False, compare=False)

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

    # -------------------------------------------------------------- the writer's lock
    def lock(self, purpose: str = "training") -> list[str]:
        """Become the folder's one writer and clear what interrupted writes left behind.

        Returns:
            The temporary files removed (relative names).

        Raises:
            RunError: another process writes to this folder ("in use by process N").
            StorageError: the folder or its lock file cannot be created (disk full, read-only).
        """
        if self._lock is None:
            try:
                self._lock = RunLock(self.path, purpose).acquire()
            except OSError as exc:  # cannot even create the folder or its lock file
                raise storage_error(exc, self.path / LOCK_FILE) from exc
        return remove_temp_files(self.path)

    def unlock(self) -> None:
        """Stop being the folder's writer (also happens when the process dies)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

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
        """The per-epoch backup's folder (exists only while a run can be resumed)."""
        return self.path / "backup"

    def write_json(self, name: str, data: Any) -> None:
        """Write ``name`` as JSON, atomically (temp file + fsync + rename)."""
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

    # -------------------------------------------------------------- status
    def set_status(self, status: str, **extra: Any) -> None:
        """Record the run's state (running / finished / stopped / failed / diverged).

        The record also names the writing process and carries its heartbeat.
        """
        self._status = {"status": status, **extra}
        self._write_status(counted=True)

    def update_status(self, **changes: Any) -> None:
        """Change some fields of the current record (the phase a running run is in)."""
        if not self._status:
            self._status = dict(self.read_json("status.json", {}))
        self._status.update(changes)
        self._write_status(counted=True)

    def heartbeat(self, every: float = HEARTBEAT_SECONDS) -> None:
        """Refresh the heartbeat of a running run at most every ``every`` seconds.

        Best effort: a failed heartbeat (full disk) is left to the next real write to report.
        """
        if not self._status or time.monotonic() - self._last_beat < every:
            return
        try:
            self._write_status(counted=False)
        except StorageError:
            pass

    def _write_status(self, counted: bool) -> None:
        now = time.time()
        self._status.update(updated=time.strftime("%Y-%m-%d %H:%M:%S"), heartbeat=round(now, 1),
                            pid=os.getpid(), host=socket.gethostname())
        self._last_beat = time.monotonic()
        atomic_write_json(self.file("status.json"), self._status, counted=counted)

    def recorded_status(self) -> dict[str, Any]:
        """``status.json`` as written ({} when missing or unreadable)."""
        try:
            data = self.read_json("status.json", {})
        except RunError:
            return {}
        return dict(data) if isinstance(data, dict) else {}

    def status(self) -> str:
        """The recorded state, ``unknown`` when missing."""
        return str(self.recorded_status().get("status", "unknown"))

    def state(self) -> str:
        """The run's real state: the recorded one, but ``interrupted`` for a dead writer.

        A run recorded as running is live only while some process holds its lock; the
        operating system drops the lock of a killed process, whatever killed it.
        """
        recorded = self.status()
        if recorded == "unknown" and self.file("spec.json").is_file():
            recorded = STATUS_RUNNING  # killed between writing its spec and its status
        if recorded != STATUS_RUNNING:
            return recorded
        if self._lock is not None and not self._status:
            return STATUS_INTERRUPTED  # we just took the lock: the recorded writer is gone
        return STATUS_RUNNING if lock_holder(self.path) is not None else STATUS_INTERRUPTED

    def describe_state(self) -> str:
        """The state in words, with the phase and when the writer was last heard of."""
        record = self.recorded_status()
        state = self.state()
        phase = record.get("phase")
        where = f" while {phase}" if phase and state in (STATUS_RUNNING,
                                                         STATUS_INTERRUPTED) else ""
        if state == STATUS_INTERRUPTED:
            seen = record.get("updated", "?")
            return (f"interrupted{where} (its process {record.get('pid', '?')} stopped without "
                    f"finishing; last heard of at {seen})")
        if state == STATUS_RUNNING:
            return f"running{where} (process {lock_holder(self.path)})"
        message = str(record.get("message") or "").split(";")[0]
        return f"{state}: {message}" if message else state

    # -------------------------------------------------------------- results
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


# ------------------------------------------------------------------ history and backup
def read_history_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a ``history.csv`` (empty when missing); torn rows dropped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return [], []
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return [], []
    header = lines[0]
    rows = [r for r in lines[1:] if len(r) == len(header) and r[0].strip().isdigit()]
    return header, rows


def history_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A ``history.csv``'s text from its header and rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


_BACKUP_STAMP = "ftstudio_backup"


def stamp_backup(weights: Path, meta: dict[str, Any]) -> None:
    """Record ``meta`` (the epoch count, the random states) inside a backup weights file."""
    import h5py

    with h5py.File(weights, "a") as handle:
        handle.attrs[_BACKUP_STAMP] = json.dumps(meta)


def read_backup_stamp(weights: Path) -> dict[str, Any] | None:
    """What :func:`stamp_backup` recorded in a weights file (None: no stamp, or unreadable)."""
    if not weights.is_file():
        return None
    import h5py

    try:
        with h5py.File(weights, "r") as handle:
            raw = handle.attrs.get(_BACKUP_STAMP)
        meta = json.loads(raw) if raw is not None else None
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and "epoch" in meta else None


def backup_epoch(backup_dir: Path) -> int | None:
    """The epoch count a backup folder holds (None when it holds none).

    The weights file's own stamp decides (it is committed by one rename); a backup written
    without one falls back on Keras's ``training_metadata.json``.
    """
    weights = backup_dir / "latest.weights.h5"
    meta = read_backup_stamp(weights)
    if meta is not None:
        return int(meta["epoch"])
    for name in ("training_metadata.json", "training_metadata.json.bkp"):
        try:
            legacy = json.loads((backup_dir / name).read_text(encoding="utf-8"))
            if weights.is_file():
                return int(legacy["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


@dataclass
class RunSummary:
    """One line of the runs list."""

    path: Path
    name: str
    status: str
    created: float
    metrics: dict[str, float] = field(default_factory=dict)


def list_runs(runs_root: str | Path | None = None) -> list[RunSummary]:
    """Every run folder under ``runs_root``, newest first; ``status`` is the real state."""
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
        out.append(RunSummary(p, str(name), run.state(), p.stat().st_mtime, metrics))
    out.sort(key=lambda r: (r.created, r.path.name), reverse=True)
    return out


def find_resumable(spec_name: str, runs_root: str | Path | None = None) -> Path | None:
    """The newest run of ``spec_name`` that did not finish.

    A running one is included: resuming it is refused when its lock is found taken, with
    the process that writes it named.
    """
    for run in list_runs(runs_root):
        if run.name == spec_name and run.status in (STATUS_INTERRUPTED, STATUS_FAILED,
                                                    STATUS_DIVERGED, STATUS_RUNNING):
            return run.path
    return None
