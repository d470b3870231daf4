"""Helpers for the packaging tests: the packaging/ folder's modules, loaded by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load_packaging_module(name: str) -> ModuleType:
    """Import ``packaging/<name>.py`` (the folder is no package: PyInstaller runs its files)."""
    spec = importlib.util.spec_from_file_location(f"_ftstudio_packaging_{name}",
                                                  PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def rules() -> ModuleType:
    return load_packaging_module("bundle_rules")


@pytest.fixture(scope="session")
def launcher() -> ModuleType:
    return load_packaging_module("launcher")
