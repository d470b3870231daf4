"""Shared test set-up: no display, quiet TensorFlow, every user folder in a tmp dir."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("PYTHONHASHSEED", "0")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point FTSTUDIO_HOME (library, runs, settings) at a fresh tmp folder for every test."""
    home = tmp_path_factory.mktemp("ftstudio_home")
    monkeypatch.setenv("FTSTUDIO_HOME", str(home))
    yield home
