"""Where bundled resources live, in a source checkout and in a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` folder (demo data, demo specs, icons, style)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def demo_spec_path() -> Path:
    """The bundled demo project's spec (MiniLM on the demo reviews CSV)."""
    return resources_dir() / "demo" / "demo_spec.json"
