"""Application settings (window geometry, recent projects) in QSettings.

With ``FTSTUDIO_HOME`` set (tests, portable installs) the settings live in
``$FTSTUDIO_HOME/settings.ini`` (:func:`ftstudio.config.settings_file`); otherwise in the
platform's usual place for organisation "ftstudio", application "Fine-Tuning Studio".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from ftstudio import config

__all__ = ["MAX_RECENT", "add_recent", "make_settings", "recent_projects", "remove_recent"]

ORGANIZATION = "ftstudio"
APPLICATION = "Fine-Tuning Studio"
MAX_RECENT = 8


def make_settings() -> QSettings:
    """Return the settings store for this session (an ini file under ``FTSTUDIO_HOME`` when set)."""
    path = config.settings_file()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def recent_projects(settings: QSettings | None = None) -> list[str]:
    """Recently opened or saved project files, newest first (missing files left out)."""
    settings = settings or make_settings()
    value = settings.value("recent/projects", [])
    if isinstance(value, str):
        value = [value]
    items = value if isinstance(value, (list, tuple)) else []  # None when never saved
    return [str(p) for p in items if Path(str(p)).is_file()][:MAX_RECENT]


def add_recent(path: str | Path, settings: QSettings | None = None) -> list[str]:
    """Put ``path`` first in the recent projects; return the new list."""
    settings = settings or make_settings()
    path = str(Path(path).resolve())
    items = [p for p in recent_projects(settings) if p != path]
    items.insert(0, path)
    items = items[:MAX_RECENT]
    settings.setValue("recent/projects", items)
    settings.sync()
    return items


def remove_recent(path: str | Path, settings: QSettings | None = None) -> list[str]:
    """Drop ``path`` from the recent projects."""
    settings = settings or make_settings()
    items = [p for p in recent_projects(settings) if p != str(path)]
    settings.setValue("recent/projects", items)
    settings.sync()
    return items
