"""Crash-safe files: every write is temp file + fsync + rename, every failure one clear message.

A file written here is either the complete old version or the complete new one, whatever
happens: the new content goes to a hidden temporary file (``.tmp-<name>-XXXX``) next to its
target, is flushed to the disk (``fsync``), and only then takes the target's name with an
atomic rename (whose folder entry is flushed too). A kill at any moment leaves at most a
temporary file, which :func:`remove_temp_files` clears when the folder is next opened.

Out-of-space and other I/O errors become a :class:`~ftstudio.errors.StorageError` naming the
folder, the free space and (when known) the space needed; a big write is refused up front when
the space is visibly not there, before a library (h5py) half-writes a file on a full disk.

Standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.engine import faults
from ftstudio.errors import InjectedCrash, StorageError
from ftstudio.formatting import format_bytes

__all__ = ["TEMP_PREFIX", "atomic_save", "atomic_save_folder", "atomic_write_json",
           "atomic_write_text", "is_out_of_space", "remove_temp_files",
           "storage_error"]

TEMP_PREFIX = ".tmp-"
"""Names of temporary files and folders start with this (hidden, and cleared on open)."""

_LEGACY_TEMP_PREFIXES = (".model.", ".best_weights.", ".status.json.", ".metrics.json.",
                         ".evaluation.json.", ".history.csv.", ".predictions.csv.",
                         ".env.json.", ".labels.json.", ".splits.json.", ".spec.json.")
"""Temporary names older versions used (a 159 MB ``.model.XXXX.keras`` left by a kill)."""
_SPACE_MARGIN = 1.1
_OUT_OF_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# ------------------------------------------------------------------------ messages
def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk is full.

    h5py reports a full disk as an ``OSError`` without ``errno``, its message holding
    ``errno = 28``; the cause chain is searched too.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno in _OUT_OF_SPACE:
            return True
        text = str(seen)
        if "No space left" in text or "errno = 28" in text or "Disk quota" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _free_bytes(folder: Path) -> int | None:
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def storage_error(exc: BaseException, path: Path, needed: int | None = None) -> StorageError:
    """One clear message for a failed write of ``path``: where, why, how much space.

    Args:
        exc: the error the write raised.
        path: the file (or folder) being written.
        needed: the bytes the write needs, when known.
    """
    folder = path.parent
    free = _free_bytes(folder)
    free_text = f"{format_bytes(free)} free" if free is not None else "free space unknown"
    need_text = f"; it needs about {format_bytes(needed)}" if needed else ""
    if is_out_of_space(exc):
        return StorageError(f"no space left on the disk of {folder} while writing {path.name} "
                            f"({free_text}{need_text}); the files already there are intact: "
                            f"free some space and try again")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StorageError(f"cannot write {path.name} in {folder}: {reason} ({free_text}); the "
                        f"files already there are intact: check the disk and try again")


def check_space(path: Path, needed: int | None) -> None:
    """Refuse a write of about ``needed`` bytes that visibly does not fit.

    Raises:
        StorageError: the disk of ``path`` has less than ``needed`` (+10 %) free.
    """
    if not needed:
        return
    free = _free_bytes(path.parent)
    if free is not None and free < needed * _SPACE_MARGIN:
        raise storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path, needed)


# ------------------------------------------------------------------------ writing
def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename itself) to the disk; a no-op where unsupported."""
    if os.name == "nt":  # pragma: no cover - Windows cannot open folders
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _temp_path(path: Path, suffix: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.stem}-", suffix=suffix,
                               dir=path.parent)
    os.close(fd)
    return Path(tmp)


def atomic_save(path: Path, writer: Callable[[Path], object], suffix: str = "",
                needed: int | None = None, counted: bool = True) -> None:
    """Let ``writer`` write a temp file next to ``path``, flush it, then move it into place.

    Keras ``model.save`` is not atomic (a failed write destroys the old file); this is.

    Args:
        path: the file to (re)place.
        writer: writes the complete content to the path it is given.
        suffix: the temp file's ending when the writer needs one (``.weights.h5``).
        needed: the bytes the file will take, when known: refused up front if they do not fit.
        counted: count it as a file write for fault injection (heartbeats, whose number
            depends on the clock, are not).

    Raises:
        StorageError: the disk is full or failing; ``path`` is left as it was.
    """
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        check_space(path, needed)
        tmp = _temp_path(path, suffix or path.suffix)
        writer(tmp)
        _fsync_file(tmp)
        if counted:
            faults.file_write(path)
        os.replace(tmp, path)
        tmp = None
        _fsync_folder(path.parent)
    except InjectedCrash:
        tmp = None  # a simulated kill leaves its temp file, as a real one does
        raise
    except StorageError:
        raise
    except Exception as exc:
        if isinstance(exc, OSError) or is_out_of_space(exc):
            raise storage_error(exc, path, needed) from exc
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str, counted: bool = True) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old or the new file.

    Raises:
        StorageError: the disk is full or failing; ``path`` is left as it was.
    """
    data = text.encode("utf-8")
    atomic_save(path, lambda tmp: tmp.write_bytes(data), counted=counted)


def atomic_write_json(path: Path, data: Any, counted: bool = True) -> None:
    """Write ``data`` as indented JSON, atomically (NumPy values and paths allowed)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n",
                      counted)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def atomic_save_folder(path: Path, writer: Callable[[Path], object]) -> None:
    """Write a whole folder (a preprocessor preset) so it is complete or absent, never half.

    ``writer`` fills a temporary folder; its files are flushed and the folder takes the
    target's name by renames (an old version is moved aside first, then deleted).

    Raises:
        StorageError: the disk is full or failing; the old folder (if any) is kept.
    """
    tmp: Path | None = None
    old: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{path.name}-", dir=path.parent))
        writer(tmp)
        for item in sorted(tmp.rglob("*")):
            if item.is_file():
                _fsync_file(item)
        _fsync_folder(tmp)
        faults.file_write(path)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}old-{path.name}-",
                                        dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        tmp = None
        _fsync_folder(path.parent)
    except InjectedCrash:
        tmp = old = None  # a simulated kill leaves its temp folders, as a real one does
        raise
    except Exception as exc:
        if old is not None and not path.exists():
            os.replace(old / path.name, path)  # put the old version back
        if isinstance(exc, OSError) or is_out_of_space(exc):
            raise storage_error(exc, path) from exc
        raise
    finally:
        for leftover in (tmp, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)


# ------------------------------------------------------------------------ cleaning
def _is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) or name.startswith(_LEGACY_TEMP_PREFIXES) or \
        name.endswith((".partial.weights.h5", ".json.tmp"))


def remove_temp_files(folder: Path) -> list[str]:
    """Delete what interrupted writes left in ``folder`` and its sub-folders.

    Only call this while holding the folder's writer lock (a live writer's temp files are
    not leftovers).

    Returns:
        The removed names, relative to ``folder``.
    """
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    for item in sorted(folder.rglob("*"), key=lambda p: len(p.parts)):
        if not _is_temp_name(item.name) or not item.exists():
            continue
        try:
            if item.is_dir():
                shutil.rmtree(item)
            else:
                item.unlink()
        except OSError:
            continue
        removed.append(item.relative_to(folder).as_posix())
    return removed
