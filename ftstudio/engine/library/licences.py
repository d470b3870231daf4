"""Licence texts of imported models: LICENSE files, README front matter, package metadata."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
from pathlib import Path

__all__ = ["copy_licences", "licence_text", "package_licence"]

_LICENCE_PREFIXES = ("license", "licence", "copying", "notice")
_MAX_LICENCE_CHARS = 20_000


def _licence_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and path.name.lower().startswith(_LICENCE_PREFIXES):
            found.append(path)
    return found


def _readme_licence(readme: Path) -> str | None:
    """Return the ``license:`` line of a Hugging Face README front matter."""
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return None
    if not text.startswith("---"):
        return None
    front = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    match = re.search(r"^licen[cs]e:\s*(.+)$", front, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def licence_text(folder: Path, extra_note: str | None = None) -> str | None:
    """The licence of a model folder: its LICENSE/NOTICE files and README ``license:`` line.

    Returns:
        The text (at most 20,000 characters), or None when the folder says nothing.
    """
    parts = []
    for path in _licence_files(folder):
        try:
            parts.append(f"[{path.name}]\n" + path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    readme = next((p for p in folder.glob("README*") if p.is_file()), None) \
        if folder.is_dir() else None
    if readme is not None:
        licence = _readme_licence(readme)
        if licence:
            parts.insert(0, f"License: {licence} (from {readme.name})")
    if extra_note:
        parts.append(extra_note)
    text = "\n\n".join(parts).strip()
    return text[:_MAX_LICENCE_CHARS] if text else None


def copy_licences(src_folder: Path, dest: Path) -> None:
    """Copy the LICENSE / COPYING / NOTICE files of ``src_folder`` into ``dest``."""
    for path in _licence_files(src_folder):
        shutil.copy2(path, dest / path.name)


def package_licence(dist: str) -> str | None:
    """A one-line licence note from an installed distribution's metadata, or None."""
    try:
        meta = importlib.metadata.metadata(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    licence = meta["License"] or meta["License-Expression"]
    return f"License: {licence} (from the {dist} package metadata)" if licence else None
