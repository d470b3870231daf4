"""What happens around a run: two writers, a diverged or exploded loss, a full disk, hostile
model files, and the smaller traps (a damaged model, lost labels, inf in the data, --set).

Each test is one problem of issue 13 and failed before its fix.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.reporting import RecordingReporter
from ftstudio.engine.runs import RunFolder, list_runs
from ftstudio.errors import FtStudioError, InjectedCrash, LibraryError, RunError, SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv

ROOT = Path(__file__).resolve().parents[2]


def tabular_spec(csv_path: Path, **training) -> ExperimentSpec:
    return ExperimentSpec.from_dict(tabular_spec_data(
        csv_path, name="robust", **{"seed": 3, "epochs": 2, "baseline": False, **training}))


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> Path:
    return write_tabular_csv(tmp_path_factory.mktemp("robust") / "d.csv", n=60)


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ 4. two writers
def test_a_second_writer_is_refused_and_nothing_is_touched(csv_path, tmp_path, monkeypatch):
    from ftstudio.engine.inference import evaluate_run
    from ftstudio.engine.training import train

    spec = tabular_spec(csv_path)
    runs = tmp_path / "runs"
    run = runs / "shared"
    monkeypatch.setenv("FTSTUDIO_FAULT", "between-epochs=crash")
    with pytest.raises(InjectedCrash):
        train(spec, out_dir=run)
    monkeypatch.delenv("FTSTUDIO_FAULT")
    holder = subprocess.Popen(  # another process writing the run: it holds the lock
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from ftstudio.engine.run_lock import RunLock; RunLock(Path(sys.argv[1])).acquire(); "
         "print('locked', flush=True); sys.stdin.read()", str(run)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = folder_snapshot(run)
        assert [r.status for r in list_runs(runs)] == ["running"]
        for attempt in (lambda: train(spec, out_dir=run),
                        lambda: train(spec, out_dir=run, resume=True),
                        lambda: train(spec, resume=True, runs_root=runs)):
            with pytest.raises(RunError, match=f"run shared is in use by process "
                                               f"{holder.pid} \\(training since"):
                attempt()
        assert folder_snapshot(run) == before
    finally:
        holder.kill()
        holder.wait(10)
    assert [r.status for r in list_runs(runs)] == ["interrupted"]
    result = train(spec, out_dir=run, resume=True)
    assert [int(r["epoch"]) for r in result.history] == [0, 1]
    assert evaluate_run(run)["test.accuracy"] == result.metrics["test.accuracy"]


def test_history_is_rewritten_whole_never_torn(csv_path, tmp_path, monkeypatch):
    """A kill mid-append left a torn row (3 fields of 6); every epoch now rewrites the file."""
    from ftstudio.engine.training import train

    spec = tabular_spec(csv_path, epochs=3)
    run = tmp_path / "run"
    monkeypatch.setenv("FTSTUDIO_FAULT", "between-epochs#2=crash")
    with pytest.raises(InjectedCrash):
        train(spec, out_dir=run)
    monkeypatch.delenv("FTSTUDIO_FAULT")
    with open(run / "history.csv", "a") as fh:  # what an interleaved writer used to leave
        fh.write("7,0.5,0.")
    result = train(spec, out_dir=run, resume=True)
    lines = (run / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2"]
    assert len({len(line.split(",")) for line in lines}) == 1
    assert len(result.history) == 3


# ------------------------------------------------------------------ 1. resume by phase
class InterruptAt(RecordingReporter):
    """Ctrl-C when a status line (``Evaluating…``) or an epoch's end (a number) comes."""

    def __init__(self, when: str | int) -> None:
        super().__init__()
        self.when = when

    def status(self, text: str) -> None:  # noqa: D102
        super().status(text)
        if isinstance(self.when, str) and text.startswith(self.when):
            raise KeyboardInterrupt

    def epoch_end(self, epoch: int, logs: dict) -> None:  # noqa: D102
        super().epoch_end(epoch, logs)
        if epoch == self.when:
            raise KeyboardInterrupt


def _weights(run: Path) -> list[np.ndarray]:
    from ftstudio.engine.artifacts import load_run_model

    return load_run_model(RunFolder(run)).get_weights()


@pytest.fixture(scope="module")
def dropout_reference(csv_path, tmp_path_factory):
    """An uninterrupted run with dropout and shuffling (what a resume must reproduce)."""
    from ftstudio.engine.training import train

    data = tabular_spec_data(csv_path, name="robust", seed=3, epochs=3, baseline=False)
    data["head"]["layers"].append({"type": "dropout", "rate": 0.3})
    spec = ExperimentSpec.from_dict(data)
    run = tmp_path_factory.mktemp("dropout") / "reference"
    train(spec, out_dir=run)
    return spec, run


@pytest.mark.parametrize("when", [1, "Evaluating"])
def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(
        dropout_reference, tmp_path, when):
    """Killed between epochs, or while evaluating: never retrained, never a different result."""
    from ftstudio.engine.training import train

    spec, reference = dropout_reference
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(spec, InterruptAt(when), out_dir=run)
    rep = RecordingReporter()
    result = train(spec, rep, out_dir=run, resume=True)
    assert [e[0] for e in rep.of("epoch_end")] == ([2, 3] if when == 1 else [])
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2]
    for got, want in zip(_weights(run), _weights(reference), strict=True):
        np.testing.assert_array_equal(got, want)
    assert (run / "metrics.json").read_text() == (reference / "metrics.json").read_text()


# ------------------------------------------------------------------ 1 + 6. divergence
def test_a_divergence_keeps_the_last_good_weights_and_resumes_with_new_settings(
        csv_path, tmp_path):
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.training import train

    # the step schedule multiplies the rate by 1e7 after 2 epochs: epoch 3 explodes
    bad = tabular_spec(csv_path, epochs=5, optimizer="sgd", schedule="step", decay_rate=1e7,
                       step_epochs=2, learning_rate=0.05)
    run = tmp_path / "runs" / "div"
    with pytest.raises(FtStudioError, match=r"diverged at epoch 3, batch \d.*best weights "
                                            r"before it \(epoch [12], val_loss .*model.keras"
                                            r".*learning_rate.*--resume continues after "
                                            r"epoch 2"):
        train(bad, out_dir=run)
    assert [r.status for r in list_runs(tmp_path / "runs")] == ["diverged"]
    kept = load_run_model(RunFolder(run)).get_weights()
    assert all(np.isfinite(w).all() for w in kept)
    assert json.loads((run / "metrics.json").read_text())["test.accuracy"] > 0
    with pytest.raises(RunError, match="would diverge again.*training.learning_rate"):
        train(bad, out_dir=run, resume=True)
    fixed = tabular_spec(csv_path, epochs=5, optimizer="sgd", schedule="step", decay_rate=0.5,
                         step_epochs=2, learning_rate=0.05)
    result = train(fixed, out_dir=run, resume=True)
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2, 3, 4]  # no restart, no NaN
    assert all(math.isfinite(r["loss"]) and r["loss"] < 10 for r in result.history)
    assert RunFolder(run).state() == "finished"


def test_an_exploding_loss_is_a_divergence_not_a_success(csv_path, tmp_path):
    """Adam at 1e9: the loss reached 1e19 without a NaN and test.loss read 0.0."""
    from ftstudio.engine.training import train

    spec = tabular_spec(csv_path, epochs=3, learning_rate=1e9)
    with pytest.raises(FtStudioError, match=r"diverged at epoch 1, batch 2: the loss exploded "
                                            r"to .*e\+\d+ .*no good weights to keep"):
        train(spec, out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert RunFolder(tmp_path / "run").state() == "diverged"


# ------------------------------------------------------------------ 3. a real full disk
SMALL_DISK = "1m"


def _mount_tmpfs(folder: Path) -> bool:
    if os.name != "posix" or os.geteuid() != 0:
        return False
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs",
                           str(folder)], capture_output=True)
    return proc.returncode == 0


FILL_SCRIPT = """
import json, os, sys
from pathlib import Path
from ftstudio.engine.training import train
from ftstudio.errors import StorageError
from ftstudio.spec import ExperimentSpec

spec = ExperimentSpec.load(sys.argv[1])
disk = Path(sys.argv[2])
for n, free in enumerate(json.loads(sys.argv[3])):
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    left = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler.write_bytes(b"x" * max(left - free, 0))
    try:
        train(spec, out_dir=disk / f"run{n}")
        print(json.dumps({"free": free, "error": None}), flush=True)
    except StorageError as exc:
        print(json.dumps({"free": free, "error": str(exc)}), flush=True)
"""


def test_a_full_disk_is_one_clear_message_and_resume_works_after_freeing_space(
        csv_path, tmp_path):
    """On a real 1 MB tmpfs filled to several levels (as root; else fault injection covers it)."""
    from ftstudio.engine.training import train

    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk):
        pytest.skip("needs root and tmpfs (tests/engine/test_faults.py injects ENOSPC instead)")
    try:
        spec = tabular_spec(csv_path)
        reference = train(spec, out_dir=tmp_path / "reference")
        spec_file = write_json(tmp_path / "spec.json", spec.to_dict())
        levels = [4096, 60_000, 150_000]
        proc = subprocess.run([sys.executable, "-c", FILL_SCRIPT, str(spec_file), str(disk),
                               json.dumps(levels)], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert proc.returncode == 0, proc.stderr[-3000:]  # no crash, no h5py segfault
        outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        assert len(outcomes) == len(levels)
        failed = [o for o in outcomes if o["error"]]
        assert len(failed) >= 2, outcomes
        (disk / "filler").unlink()
        for n, outcome in enumerate(outcomes):
            run = disk / f"run{n}"
            if not outcome["error"]:
                continue
            message = outcome["error"]
            assert message.startswith(f"no space left on the disk of {run}"), message
            assert " free" in message and "Traceback" not in message
            for path in run.glob("*.json"):
                json.loads(path.read_text())  # every file there is whole
            if (run / "spec.json").is_file():
                assert message.endswith("--resume (same --out)")
                result = train(spec, out_dir=run, resume=True)
            else:
                result = train(spec, out_dir=run)
            assert result.metrics == reference.metrics
            assert (run / "history.csv").read_text() == \
                (tmp_path / "reference" / "history.csv").read_text()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


# ------------------------------------------------------------------ 5. hostile model files
def _zip_with(path: Path, members: dict[str, bytes | int],
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip whose members are bytes, or ints: that many zero bytes, streamed."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, content in members.items():
            if isinstance(content, int):
                with archive.open(name, "w", force_zip64=True) as fh:
                    chunk = bytes(1 << 20)
                    for _ in range(content >> 20):
                        fh.write(chunk)
            else:
                archive.writestr(name, content)
    return path


CONFIG = json.dumps({"class_name": "Sequential", "config": {"layers": []}}).encode()


@pytest.mark.parametrize("members, why", [
    ({"config.json": CONFIG, "model.weights.h5": 64 << 20},
     r"its model.weights.h5 expands from .* KB to 67.1 MB \([\d,]+ times; at most 100\)"),
    ({"config.json": b" " * (40 << 20) + CONFIG, "model.weights.h5": b"x"},
     r"its config.json declares 41.9 MB \(at most 33.6 MB\)"),
    ({**{f"assets/{i}": b"" for i in range(10_001)}, "config.json": CONFIG,
      "model.weights.h5": b"x"}, r"it holds 10,003 files \(at most 10,000\)"),
])
def test_a_model_archive_beyond_the_limits_is_refused_before_extraction(tmp_path, members,
                                                                         why):
    from ftstudio.engine.library.safety import detect_kind
    from ftstudio.engine.model_files import load_model_safely

    bomb = _zip_with(tmp_path / "bomb.keras", members)
    assert bomb.stat().st_size < 2 << 20
    for load in (load_model_safely, detect_kind):  # a backbone or run load; a library import
        with pytest.raises(LibraryError, match=f"bomb.keras was refused before anything was "
                                               f"extracted: {why}"):
            load(bomb)


def test_a_run_whose_model_is_a_bomb_is_refused(tmp_path):
    from ftstudio.engine.inference import predict

    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.json").write_text(json.dumps(tabular_spec_data(tmp_path / "d.csv")))
    _zip_with(run / "model.keras", {"config.json": CONFIG, "model.weights.h5": 32 << 20})
    with pytest.raises(RunError, match="refused before anything was extracted"):
        predict(run, file=tmp_path / "d.csv")


def test_compressed_hdf5_weights_beyond_the_limits_are_refused(tmp_path, monkeypatch):
    import h5py

    from ftstudio.engine import archive_limits
    from ftstudio.engine.model_files import weights_signature

    path = tmp_path / "bomb.weights.h5"
    with h5py.File(path, "w") as handle:  # 64 MB of zeros in gzip chunks: a few KB on disk
        handle.create_dataset("layers/dense/vars/0", shape=(4096, 4096), dtype="float32",
                              chunks=(512, 512), compression="gzip", fillvalue=0.0)
        handle["layers/dense/vars/0"][:512, :512] = 0.0
    assert path.stat().st_size < 1 << 20
    with pytest.raises(LibraryError, match=r"arrays expand from .* to 67.1 MB"):
        weights_signature(path)
    monkeypatch.setattr(archive_limits, "MAX_TOTAL_BYTES", 1000)
    small = tmp_path / "small.weights.h5"
    with h5py.File(small, "w") as handle:
        handle["w"] = np.zeros((40, 40), dtype="float32")
    with pytest.raises(LibraryError, match=r"declare 6.4 KB in all \(at most 1.0 KB\)"):
        weights_signature(small)


# ------------------------------------------------------------------ 2 + 7. smaller ones
@pytest.fixture(scope="module")
def finished_run(csv_path, tmp_path_factory):
    from ftstudio.engine.training import train

    run = tmp_path_factory.mktemp("finished") / "run"
    train(tabular_spec(csv_path), out_dir=run)
    return run


def test_predict_on_a_truncated_model_says_it_is_damaged(finished_run, csv_path, tmp_path):
    import shutil

    from ftstudio.engine.inference import predict

    for cut in (0.5, 0.97):
        run = shutil.copytree(finished_run, tmp_path / f"cut{cut}")
        size = (run / "model.keras").stat().st_size
        with open(run / "model.keras", "r+b") as fh:
            fh.truncate(int(size * cut))
        with pytest.raises(RunError, match=r"model.keras exists but is damaged .*cut short by "
                                           r"a crash or a full disk.*retrain it") as caught:
            predict(run, file=csv_path)
        assert "not found" not in str(caught.value).split("damaged")[0]


def test_a_run_without_labels_says_so_and_evaluate_rebuilds_them(finished_run, csv_path,
                                                                  tmp_path):
    import shutil

    from ftstudio.engine.inference import evaluate_run, predict

    run = shutil.copytree(finished_run, tmp_path / "run")
    (run / "labels.json").unlink()
    with pytest.raises(RunError, match="no class names for output 'label'.*labels.json.*"
                                       "ftstudio evaluate"):
        predict(run, file=csv_path)
    evaluate_run(run)
    rows = predict(run, file=csv_path)
    assert {r["label"]["label"] for r in rows} <= {"high", "low", "mid"}


def test_nan_and_inf_follow_one_rule_with_one_wording(tmp_path):
    from ftstudio.engine.data import load_data

    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label,price\n1,2,x,1\n3,inf,y,2\n5,6,x,3\n7,NaN,y,4\n9,-inf,x,5\n"
                   "11,12,y,inf\n13,14,x,7\n15,16,y,8\n")
    spec = ExperimentSpec.from_dict({
        "data": {"path": str(csv), "feature_columns": ["a", "b"]},
        "backbone": {"source": "none"},
        "head": {"outputs": [{"name": "price", "label_column": "price",
                              "task": "regression"}]}})
    data = load_data(spec)
    assert data.inputs[:, 0].tolist() == [1, 5, 13, 15]
    assert "Dropped 1 row with an empty 'price' label (missing or infinite; line 7)." in \
        data.warnings
    assert "Dropped 3 rows with an empty value in 'b' (missing or infinite; lines 3, 5, 6)." \
        in data.warnings


def test_an_absurdly_long_text_field_is_warned_about(tmp_path):
    from ftstudio.engine.data import load_data

    csv = tmp_path / "t.csv"
    csv.write_text("text,label\nshort one,a\n" + "word " * 400_000 + ",b\nanother,a\nmore,b\n")
    spec = ExperimentSpec.from_dict({"data": {"path": str(csv), "text_column": "text",
                                              "label_column": "label"}})
    data = load_data(spec)
    assert any("1 text in 'text' of t.csv is over 1,000,000 characters (the longest, line 3, "
               "has 2,000,000)" in w for w in data.warnings), data.warnings


def test_set_blames_the_override_that_replaced_a_section(tmp_path):
    spec_file = write_json(tmp_path / "s.json", tabular_spec_data(tmp_path / "d.csv"))
    with pytest.raises(SpecError, match=r"^--set training=3: 'training' is a section of the "
                                        r"spec, not a single value; set one of its keys"):
        ExperimentSpec.load(spec_file, ["training=3", "training.epochs=1"])


def test_a_spec_or_data_error_comes_before_tensorflow_loads(tmp_path):
    csv = write_tabular_csv(tmp_path / "d.csv", n=20)
    data = tabular_spec_data(csv)
    data["data"]["feature_columns"] = ["f0", "nope"]
    spec_file = write_json(tmp_path / "s.json", data)
    code = ("import sys; from ftstudio.cli import main; rc = main(sys.argv[1:]); "
            "print('TF' if 'tensorflow' in sys.modules else 'noTF', rc)")
    for args, expect in (([], "column 'nope'"), (["--set", "training.epochs=x"],
                                                  "training.epochs")):
        proc = subprocess.run([sys.executable, "-c", code, "train", str(spec_file), "--out",
                               str(tmp_path / "run"), *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert proc.stdout.split()[-2:] == ["noTF", "2"], proc.stdout + proc.stderr
        assert expect in proc.stderr
