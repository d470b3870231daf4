"""Shared test set-up: no display, quiet TensorFlow, every user folder in a tmp dir.

Tiny data, specs and models that several test modules need live in :mod:`tests.helpers`.
"""

from __future__ import annotations

import os

from ftstudio.config import quiet_tensorflow_logs

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("PYTHONHASHSEED", "0")
quiet_tensorflow_logs("2")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point FTSTUDIO_HOME (library, runs, settings) at a fresh tmp folder for every test."""
    home = tmp_path_factory.mktemp("ftstudio_home")
    monkeypatch.setenv("FTSTUDIO_HOME", str(home))
    yield home
