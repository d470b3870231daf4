"""Icons and the style sheet from ``resources/`` (source checkout or PyInstaller bundle)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from ftstudio.paths import resources_dir

__all__ = ["icon", "style_sheet"]


def _resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


@cache
def icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` (an empty icon when missing)."""
    path = _resource("icons", f"{name}.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()


def style_sheet() -> str:
    """Return the application style sheet (``resources/style/app.qss``; empty when missing)."""
    path = _resource("style", "app.qss")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.replace("@ICONS@", _resource("icons").as_posix())
