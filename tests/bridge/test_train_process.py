"""Training in a child process: reports relayed, user errors re-raised with their message."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftstudio.bridge import train_process
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import DataError
from ftstudio.spec import BackboneSpec, DataSpec, ExperimentSpec, LayerSpec, TrainSpec


def test_child_trains_relays_reports_and_reraises_user_errors(tmp_path: Path) -> None:
    rows = ["a,b,y"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(60)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    spec = ExperimentSpec(data=DataSpec(path=str(tmp_path / "d.csv"), feature_columns=["a", "b"],
                                        label_column="y"),
                          backbone=BackboneSpec(source="none"),
                          training=TrainSpec(epochs=2, batch_size=8, learning_rate=1e-2))
    spec.head.layers = [LayerSpec(units=4)]
    reporter = RecordingReporter()
    try:
        outcome = train_process.train_in_process(spec, reporter, str(tmp_path / "runs"))
        assert Path(outcome.run_dir, "model.keras").is_file()
        assert not outcome.stopped_by_user and "test.accuracy" in outcome.metrics
        steps = [args[0] for args in reporter.of("batch_end")]
        assert steps == list(range(1, 2 * 6 + 1))  # every batch, in order
        assert [args[0] for args in reporter.of("epoch_end")] == [1, 2]

        spec.data.path = str(tmp_path / "missing.csv")
        with pytest.raises(DataError, match="not found"):
            train_process.train_in_process(spec, RecordingReporter(), str(tmp_path / "runs"))
    finally:
        train_process.shutdown()
