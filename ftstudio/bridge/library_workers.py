"""Qt workers for the model library and autoencoder pretraining (QtCore only).

Each worker is a ``QObject`` moved to a ``QThread`` (see :func:`start_worker`); its ``run``
slot imports the engine lazily, so the window starts without TensorFlow. Results cross to the
GUI thread as signals carrying plain Python data (dicts, lists, strings); connect them to
bound ``@Slot`` methods of GUI-thread objects (not lambdas) so they run in the GUI thread.
Every worker emits ``done`` last, whatever happened; :func:`start_worker` quits the thread on it.

Example:
    >>> worker = LibraryWorker("list")                      # doctest: +SKIP
    >>> thread = start_worker(worker, parent=self)           # doctest: +SKIP
    >>> worker.finished.connect(self.on_entries)             # doctest: +SKIP
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ftstudio.engine.reporting import BaseReporter
from ftstudio.errors import CancelledError, FtStudioError

LIBRARY_OPS = ("list", "import", "inspect", "verify", "remove", "install_defaults",
               "download_preset", "download_applications")
"""Operations :class:`LibraryWorker` runs (the ``download_*`` ones use the network)."""


class _SignalReporter(BaseReporter):
    """Turns Reporter calls into the worker's signals; batch updates at most ``max_hz``."""

    def __init__(self, worker: Any, max_hz: float = 20.0) -> None:
        super().__init__()
        self._worker = worker
        self._min_dt = 1.0 / max_hz
        self._last_batch = 0.0
        self._last_progress = 0.0

    def status(self, text: str) -> None:  # noqa: D102
        self._worker.status.emit(text)

    def warning(self, text: str) -> None:  # noqa: D102
        self._worker.warning.emit(text)

    def progress(self, done: float, total: float | None) -> None:  # noqa: D102
        now = time.monotonic()
        if total is not None and done < total and now - self._last_progress < self._min_dt:
            return
        self._last_progress = now
        self._worker.progress.emit(float(done), float(total) if total is not None else -1.0)

    def train_begin(self, info: dict[str, Any]) -> None:  # noqa: D102
        sig = getattr(self._worker, "train_begin", None)
        if sig is not None:
            sig.emit(dict(info))

    def batch_end(self, step: int, logs: dict[str, float]) -> None:  # noqa: D102
        sig = getattr(self._worker, "batch_end", None)
        now = time.monotonic()
        if sig is None or now - self._last_batch < self._min_dt:
            return
        self._last_batch = now
        sig.emit(int(step), dict(logs))

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        sig = getattr(self._worker, "epoch_end", None)
        if sig is not None:
            sig.emit(int(epoch), dict(logs))

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        sig = getattr(self._worker, "train_end", None)
        if sig is not None:
            sig.emit(dict(logs))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, FtStudioError):
        return str(exc)
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return f"Unexpected error (a bug, please report it): {last}"


class LibraryWorker(QObject):
    """Runs one model-library operation off the GUI thread.

    Args:
        op: one of :data:`LIBRARY_OPS`.
        **kwargs: the operation's arguments: ``import``: ``path``, ``name``, ``submodel``,
            ``cut_layer``, ``arch``, ``preprocessing``, ``image_size``, ``description``,
            ``replace``; ``inspect``: ``path``; ``verify``: ``name`` (optional); ``remove``:
            ``name``; ``install_defaults``: ``replace``; ``download_preset``: ``preset``,
            ``name``; ``download_applications``: ``arch``, ``name``, ``alpha``.

    Signals:
        status(str), warning(str), progress(done, total; total -1 when unknown),
        finished(object): the result as plain data (entry dicts, verify reports as dicts,
        the removed name, inspection dict), failed(str): a one-line message, done().
    """

    status = Signal(str)
    warning = Signal(str)
    progress = Signal(float, float)
    finished = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, op: str, **kwargs: Any) -> None:
        super().__init__()
        if op not in LIBRARY_OPS:
            raise ValueError(f"unknown library operation {op!r}")
        self.op = op
        self.kwargs = kwargs
        self.reporter = _SignalReporter(self)

    def stop(self) -> None:
        """Ask a running download to stop (thread-safe)."""
        self.reporter.request_stop()

    @Slot()
    def run(self) -> None:
        """Do the operation; emit ``finished`` or ``failed``, then ``done``."""
        try:
            self.finished.emit(self._run())
        except Exception as exc:  # every error reaches the window as a message
            self.failed.emit(_error_text(exc))
        finally:
            self.done.emit()

    def _run(self) -> Any:
        from ftstudio.engine import library

        kw = dict(self.kwargs)
        rep = self.reporter
        if self.op == "list":
            return [e.to_dict() for e in library.list_entries()]
        if self.op == "import":
            path = kw.pop("path")
            return library.import_path(path, kw.pop("name", None), reporter=rep,
                                       **kw).to_dict()
        if self.op == "inspect":
            return library.inspect_path(kw["path"])
        if self.op == "verify":
            return [{"name": r.name, "ok": r.ok, "problems": list(r.problems),
                     "checked_files": r.checked_files}
                    for r in library.verify(kw.get("name"), reporter=rep)]
        if self.op == "remove":
            library.remove(kw["name"])
            return kw["name"]
        if self.op == "install_defaults":
            return [e.to_dict() for e in library.install_defaults(
                replace=bool(kw.get("replace", False)), reporter=rep)]
        if self.op == "download_preset":
            return library.download_preset(kw["preset"], kw.get("name"), reporter=rep,
                                           replace=bool(kw.get("replace", False))).to_dict()
        return library.download_applications(kw["arch"], kw.get("name"), alpha=kw.get("alpha"),
                                             replace=bool(kw.get("replace", False)),
                                             reporter=rep).to_dict()


class PretrainWorker(QObject):
    """Runs autoencoder pretraining off the GUI thread.

    Args:
        spec_json: the :class:`~ftstudio.spec.PretrainSpec` as JSON (paths absolute).
        replace: replace an existing library entry called ``save_as``.

    Signals:
        status(str), warning(str), progress(done, total), train_begin(dict),
        batch_end(step, logs) at most 20 per second, epoch_end(epoch, logs) with ``loss`` /
        ``val_loss`` (reconstruction MSE), train_end(dict), preview(str): path of the refreshed
        originals-vs-reconstructions PNG (images), finished(dict): ``entry_name``,
        ``entry_folder``, ``history``, ``stopped_by_user``, ``preview_path``, ``samples``,
        ``warnings``; failed(str); stopped(): stopped before anything was saved; done().
    """

    status = Signal(str)
    warning = Signal(str)
    progress = Signal(float, float)
    train_begin = Signal(object)
    batch_end = Signal(int, object)
    epoch_end = Signal(int, object)
    train_end = Signal(object)
    preview = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    stopped = Signal()
    done = Signal()

    def __init__(self, spec_json: str, replace: bool = False) -> None:
        super().__init__()
        self.spec_json = spec_json
        self.replace = replace
        self.reporter = _SignalReporter(self)

    def stop(self) -> None:
        """Ask the training to stop after the current batch (thread-safe)."""
        self.reporter.request_stop()

    def _on_preview(self, path: str) -> None:
        self.preview.emit(path)

    @Slot()
    def run(self) -> None:
        """Train; emit ``finished``/``failed``/``stopped``, then ``done``."""
        try:
            from ftstudio.engine import autoencoder
            from ftstudio.spec import PretrainSpec

            spec = PretrainSpec.from_json(self.spec_json)
            result = autoencoder.pretrain(spec, reporter=self.reporter, replace=self.replace,
                                          on_preview=self._on_preview)
            self.finished.emit({
                "entry_name": result.entry_name, "entry_folder": str(result.entry_folder),
                "history": result.history, "stopped_by_user": result.stopped_by_user,
                "preview_path": str(result.preview_path) if result.preview_path else None,
                "samples": result.samples, "warnings": list(result.warnings)})
        except CancelledError:
            self.stopped.emit()
        except Exception as exc:  # every error reaches the window as a message
            self.failed.emit(_error_text(exc))
        finally:
            self.done.emit()


def start_worker(worker: Any, parent: QObject | None = None,
                 on_thread_finished: Any = None) -> QThread:
    """Move ``worker`` to a new QThread, start it, and quit the thread on ``worker.done``.

    Args:
        worker: a worker of this module (it has ``run`` and ``done``).
        parent: the thread's QObject parent.
        on_thread_finished: a bound slot of a GUI-thread object, connected to
            ``thread.finished`` before the thread starts (release the worker and thread there).

    The caller keeps references to both until ``thread.finished``, and on shutdown calls
    :func:`stop_thread`.
    """
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.done.connect(thread.quit)
    if on_thread_finished is not None:
        thread.finished.connect(on_thread_finished)
    thread.start()
    return thread


def stop_thread(worker: Any, thread: QThread | None, timeout_ms: int = 30000) -> bool:
    """Ask ``worker`` to stop, quit ``thread`` and wait for it; True when it ended."""
    if worker is not None and hasattr(worker, "stop"):
        worker.stop()
    if thread is None:
        return True
    try:
        running = thread.isRunning()
    except RuntimeError:  # the C++ object is already gone
        return True
    if not running:
        return True
    thread.quit()
    deadline = time.monotonic() + timeout_ms / 1000
    while not thread.wait(100):
        if time.monotonic() > deadline:
            return False
    return True


__all__ = ["LIBRARY_OPS", "LibraryWorker", "PretrainWorker", "start_worker", "stop_thread"]
