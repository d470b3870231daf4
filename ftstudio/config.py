"""The one place that reads ftstudio's environment and knows the user folders (stdlib only).

Every ``FTSTUDIO_*`` variable is read here and nowhere else. The values are read when asked
(not at import time), so a test that points ``FTSTUDIO_HOME`` at a temporary folder with
``monkeypatch.setenv`` sees its folder everywhere.

Variables:
    FTSTUDIO_HOME: the data folder (model library, runs, window settings). Default: the
        platform's user data folder for "ftstudio".
    FTSTUDIO_DEBUG: show tracebacks and TensorFlow's start-up lines.
    FTSTUDIO_TRAIN_IN_THREAD: run background jobs in a thread of the window instead of a child
        process (for debugging only: the GIL makes the window stall).
    FTSTUDIO_TRAIN_NICE: ``nice`` increment of the job child process (0 by default).
    FTSTUDIO_STARTUP_PROBE: what the launch benchmark waits for ("window" or "engine").
    FTSTUDIO_T0: the start time (``time.time()``) the launch benchmark measures from.
    FTSTUDIO_FAULT: tests only: the fault to inject into a run (see ``engine/faults.py``).
    TF_CONFIG: TensorFlow's cluster description: ``ftstudio train`` runs as one worker of a
        ``MultiWorkerMirroredStrategy`` (see ``engine/devices.py``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = [
    "debug_enabled", "fault_injection", "ftstudio_home", "jobs_in_thread", "job_child_nice",
    "keras_weights_dirs", "library_dir", "package_dir", "quiet_tensorflow_logs", "runs_dir",
    "settings_file", "startup_probe", "startup_time", "tf_config",
]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def ftstudio_home() -> Path:
    """The user's ftstudio data folder: ``$FTSTUDIO_HOME`` or the platform's user data folder."""
    home = os.environ.get("FTSTUDIO_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("ftstudio", appauthor=False))


def runs_dir() -> Path:
    """Where run folders go when no ``--out`` / runs root is given (``home/runs``)."""
    return ftstudio_home() / "runs"


def library_dir() -> Path:
    """The model library folder (``home/library``); not created here."""
    return ftstudio_home() / "library"


def settings_file() -> Path | None:
    """The window's settings ini file when ``FTSTUDIO_HOME`` is set, else None (platform store)."""
    home = os.environ.get("FTSTUDIO_HOME")
    return Path(home).expanduser() / "settings.ini" if home else None


def debug_enabled() -> bool:
    """True when ``FTSTUDIO_DEBUG`` asks for tracebacks and TensorFlow's own log lines."""
    return _flag("FTSTUDIO_DEBUG")


def jobs_in_thread() -> bool:
    """True when ``FTSTUDIO_TRAIN_IN_THREAD`` asks for jobs in a thread instead of a child."""
    return _flag("FTSTUDIO_TRAIN_IN_THREAD")


def job_child_nice() -> int:
    """The ``nice`` increment for the job child process (``FTSTUDIO_TRAIN_NICE``, default 0)."""
    try:
        return int(os.environ.get("FTSTUDIO_TRAIN_NICE", "0") or 0)
    except ValueError:
        return 0


def startup_time(default: float) -> float:
    """The launch time the start-up benchmark measures from (``FTSTUDIO_T0``) or ``default``."""
    try:
        return float(os.environ.get("FTSTUDIO_T0", default))
    except ValueError:
        return default


def quiet_tensorflow_logs(level: str = "2") -> None:
    """Ask TensorFlow's C++ and absl loggers for fewer lines, unless the user set a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", level)
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", level)


def package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it (None if absent)."""
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def keras_weights_dirs() -> list[Path]:
    """Folders where Keras caches downloaded weights, each ``<keras home>/models``.

    ``$KERAS_HOME`` or ``~/.keras``, then ``/tmp/.keras`` (Keras's fallback when the home
    folder is not writable).
    """
    home = os.environ.get("KERAS_HOME")
    bases = [Path(home).expanduser()] if home else [Path.home() / ".keras"]
    bases.append(Path("/tmp") / ".keras")
    return [base / "models" for base in bases]


def startup_probe() -> str | None:
    """What the launch benchmark waits for (``FTSTUDIO_STARTUP_PROBE``): ``window`` or ``engine``.

    None when the variable is not set (a normal start).
    """
    return os.environ.get("FTSTUDIO_STARTUP_PROBE") or None


def fault_injection() -> str | None:
    """The fault a test asks a run to suffer (``FTSTUDIO_FAULT``), or None (always, normally).

    The grammar (``<point>[#<n>]=<action>``) is parsed by ``ftstudio.engine.faults``.
    """
    return os.environ.get("FTSTUDIO_FAULT", "").strip() or None


def tf_config() -> str | None:
    """TensorFlow's cluster description (``TF_CONFIG``), or None.

    Set when this process is one worker of a multi-machine run; TensorFlow itself reads the
    cluster from it.
    """
    return os.environ.get("TF_CONFIG", "").strip() or None
