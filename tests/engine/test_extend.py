"""Extending a finished run: N more epochs from its last state, into the same folder, end where
one uninterrupted run of the same total ends (constant learning rate, CPU)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.extend import extend_run, plan_extension
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.engine.resume import EXTEND_STATE
from ftstudio.engine.runs import RunFolder
from ftstudio.errors import RunError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> Path:
    return write_tabular_csv(tmp_path_factory.mktemp("extend") / "d.csv", n=80)


def spec_of(csv_path: Path, epochs: int, **training) -> ExperimentSpec:
    return ExperimentSpec.from_dict(tabular_spec_data(
        csv_path, name="ext", **{"seed": 5, "epochs": epochs, "baseline": False, **training}))


def weights(run: Path) -> list[np.ndarray]:
    from ftstudio.engine.artifacts import load_run_model

    return load_run_model(RunFolder(run)).get_weights()


def test_extend_ends_with_the_weights_of_one_uninterrupted_run(csv_path, tmp_path, capsys):
    from ftstudio.cli import main
    from ftstudio.engine.training import train

    train(spec_of(csv_path, 2), out_dir=tmp_path / "short")
    kept = tmp_path / "short" / EXTEND_STATE / "phase0" / "latest.weights.h5"
    assert kept.is_file() and not (tmp_path / "short" / "backup").exists()
    assert main(["extend", str(tmp_path / "short"), "2"]) == 0  # ftstudio extend RUN N
    printed = "".join(capsys.readouterr())  # status lines on stderr, the result on stdout
    assert "Extending short by 2 epochs: epochs 3–4" in printed
    assert "Run extended" in printed and "(4 epochs in all)" in printed
    train(spec_of(csv_path, 4), out_dir=tmp_path / "long")

    for got, want in zip(weights(tmp_path / "short"), weights(tmp_path / "long"), strict=True):
        np.testing.assert_array_equal(got, want)
    for name in ("history.csv", "metrics.json"):
        assert (tmp_path / "short" / name).read_text() == \
            (tmp_path / "long" / name).read_text(), name
    assert len(RunFolder(tmp_path / "short").history()) == 4
    spec = json.loads((tmp_path / "short" / "spec.json").read_text())
    assert spec["training"]["epochs"] == 4
    assert RunFolder(tmp_path / "short").state() == "finished"
    assert (tmp_path / "short" / EXTEND_STATE / "phase0").is_dir()  # it can grow again
    assert not list((tmp_path / "short").glob("*.npz"))


def test_what_cannot_be_extended_is_refused_untouched(csv_path, tmp_path):
    from ftstudio.engine.training import train

    with pytest.raises(RunError, match="holds no run"):
        plan_extension(RunFolder(tmp_path), 1)
    train(spec_of(csv_path, 1), out_dir=tmp_path / "run")
    run = RunFolder(tmp_path / "run")
    with pytest.raises(RunError, match="extend by 1"):
        plan_extension(run, 0)
    # as if early stopping had ended it after 1 of 5 epochs: more would stop at once
    original = run.file("spec.json").read_text()
    stopped_early = json.loads(original)
    stopped_early["training"].update(epochs=5, early_stopping_patience=1)
    run.file("spec.json").write_text(json.dumps(stopped_early))
    with pytest.raises(RunError, match="early stopping after epoch 1"):
        extend_run(run.path, 2)
    run.file("spec.json").write_text(original)
    assert plan_extension(run, 3).total == 4
    for path in (run.path / EXTEND_STATE).rglob("*.h5"):
        path.unlink()
    with pytest.raises(RunError, match="kept no state"):
        extend_run(run.path, 1)
    assert run.file("spec.json").read_text() == original
    assert run.state() == "finished"
    run.set_status("running")
    with pytest.raises(RunError, match="--resume"):
        plan_extension(run, 1)


def test_a_schedule_is_stretched_over_the_new_total(csv_path, tmp_path):
    """Cosine: the step count carries on and the schedule spans the new total, so the
    extension's rates are those of one 4-epoch run from epoch 3 on; epochs 1-2 had decayed over
    2 epochs (to 0), so the rate jumps back up when the extension starts."""
    from ftstudio.engine.training import train

    cosine = {"schedule": "cosine", "learning_rate": 0.05}
    reps = [RecordingReporter() for _ in range(2)]
    train(spec_of(csv_path, 2, **cosine), reps[0], out_dir=tmp_path / "short")
    extend_run(tmp_path / "short", 2, reps[1])
    short, extension = ({e: logs["lr"] for e, logs in r.of("epoch_end")} for r in reps)
    assert sorted(extension) == [3, 4]
    assert short[2] == pytest.approx(0.0, abs=1e-7)  # the 2-epoch cosine ended at 0
    # one 4-epoch cosine at the end of epochs 3 and 4: 0.05 * (1 + cos(pi * e / 4)) / 2
    four_epochs = [0.025 * (1 + math.cos(math.pi * e / 4)) for e in (3, 4)]
    assert [extension[3], extension[4]] == pytest.approx(four_epochs, abs=1e-7)
    assert extension[3] > short[2]  # the jump back up


def test_an_augmented_run_extends_like_an_uninterrupted_one(tmp_path):
    """The backup restores the augmentation layers' random state: the extension draws the
    flips and rotations the uninterrupted run draws."""
    from ftstudio.engine.training import train
    from tests.helpers.models import save_model, tiny_cnn
    from tests.helpers.specs import image_spec_data, write_image_folder

    folder = write_image_folder(tmp_path / "images", per_class=8)
    data = {**image_spec_data(folder), "name": "aug",
            "augment": {"flip": "horizontal", "rotation": 0.1, "contrast": 0.2},
            "backbone": {"source": "file", "preprocessing": "scale_0_1",
                         "path": str(save_model(tiny_cnn(16), tmp_path / "cnn.keras"))},
            "training": {"batch_size": 4, "optimizer": "adam", "learning_rate": 0.01,
                         "baseline": False, "seed": 1}}

    def spec(epochs: int) -> ExperimentSpec:
        return ExperimentSpec.from_dict({**data, "training": {**data["training"],
                                                              "epochs": epochs}})

    train(spec(1), out_dir=tmp_path / "short")
    extend_run(tmp_path / "short", 1)
    train(spec(2), out_dir=tmp_path / "long")
    for got, want in zip(weights(tmp_path / "short"), weights(tmp_path / "long"), strict=True):
        np.testing.assert_array_equal(got, want)
