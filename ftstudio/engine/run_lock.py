"""One writer per run folder: an advisory lock on ``<run>/.lock``.

The process that trains (or re-evaluates) a run holds an exclusive lock on the folder's lock
file for as long as it writes there. A second writer is refused at once with the holder's
process id, before it touches anything. The operating system drops the lock when the holder
dies, however it dies, so "recorded as running but nobody holds the lock" reliably means the
writer was interrupted (:func:`lock_holder`).

Locks are ``flock`` locks on POSIX (per open file, so two writers inside one process exclude
each other too) and ``msvcrt`` byte locks on Windows. Where the file system has no locks
(some network shares), the recorded process id decides: alive on this host means running.
Standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ftstudio.errors import RunError

__all__ = ["LOCK_FILE", "RunLock", "lock_holder"]

LOCK_FILE = ".lock"
"""The lock file's name inside a run folder (never removed: removing races with lockers)."""

_RETRY_SECONDS = 0.5
"""How long an acquire retries: a Runs page probing the lock holds it for microseconds."""
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_WINDOWS_LOCK_OFFSET = 1 << 30  # lock a byte far past the contents, so readers can read them

try:  # POSIX
    import fcntl

    def _try_lock(fd: int, shared: bool = False) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int, shared: bool = False) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def _read_owner(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class RunLock:
    """The exclusive writer lock of one run folder.

    Args:
        folder: the run folder (created if missing).
        purpose: what the holder does there ("training", "evaluation"), for the refusal.
    """

    def __init__(self, folder: Path, purpose: str = "training") -> None:
        self.folder = Path(folder)
        self.purpose = purpose
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        """The lock file."""
        return self.folder / LOCK_FILE

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock, or refuse naming the process that holds it.

        Raises:
            RunError: another process (or another writer in this one) holds the lock.
        """
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = self._lock_with_retry(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            raise RunError(self._refusal())
        self._fd = fd
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(owner).encode("utf-8"))
        return self

    def _lock_with_retry(self, fd: int) -> bool:
        deadline = time.monotonic() + _RETRY_SECONDS
        while True:
            try:
                if _try_lock(fd):
                    return True
            except OSError as exc:
                if exc.errno in _NO_LOCKS:  # no locks on this file system: trust the pid
                    return not _owner_alive(self.path)
                raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _refusal(self) -> str:
        owner = _read_owner(self.path)
        who = f"process {owner['pid']}" if owner.get("pid") else "another process"
        host = owner.get("host")
        if host and host != socket.gethostname():
            who += f" on {host}"
        since = f" ({owner.get('purpose', 'writing')} since {owner['since']})" \
            if owner.get("since") else ""
        return (f"run {self.folder.name} is in use by {who}{since}; nothing was changed. Wait "
                f"for it to finish (or stop it), or write to another folder")

    def release(self) -> None:
        """Let the lock go (the operating system also does when the process dies)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _unlock(fd)
        except OSError:
            pass
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _owner_alive(path: Path) -> bool:
    owner = _read_owner(path)
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    return owner.get("host") not in (None, socket.gethostname()) or _pid_alive(pid)


def lock_holder(folder: Path) -> int | None:
    """The process id of the writer holding ``folder``'s lock, or None when nobody does.

    Returns ``-1`` for a holder whose id is unknown (it has not written it yet).
    """
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY if os.name != "nt" else os.O_RDWR)
    except OSError:
        return None
    try:
        try:
            free = _try_lock(fd, shared=True)
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                return None
            return int(_read_owner(path).get("pid", -1)) if _owner_alive(path) else None
        if free:
            _unlock(fd)
            return None
        pid = _read_owner(path).get("pid")
        return int(pid) if isinstance(pid, int) else -1
    finally:
        os.close(fd)
