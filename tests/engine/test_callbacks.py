import math

import numpy as np

from ftstudio.engine.callbacks import AtomicBackupAndRestore, BestCheckpoint, ReporterCallback
from ftstudio.engine.reporting import RecordingReporter
from tests.helpers.models import tiny_dense


def fit_with_backup(backup, epochs):
    """A fresh tiny model fitted on constant data, backing up into ``backup`` every epoch."""
    model = tiny_dense()
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), epochs=epochs, verbose=0,
              callbacks=[AtomicBackupAndRestore(str(backup), delete_checkpoint=False)])
    return model


def test_best_checkpoint_keeps_the_best_epoch_and_beats_a_threshold(tmp_path):
    model = tiny_dense()
    path = tmp_path / "best.npz"
    cb = BestCheckpoint(path, "val_loss", lower_is_better=True, initial_value=None)
    cb.set_model(model)
    snapshots = []
    for epoch, loss in enumerate([0.5, 0.3, 0.4]):
        model.set_weights([w + epoch + 1 for w in model.get_weights()])
        snapshots.append(model.get_weights())
        cb.on_epoch_end(epoch, {"val_loss": loss})
    BestCheckpoint.restore(model, path)
    for got, want in zip(model.get_weights(), snapshots[1], strict=True):
        np.testing.assert_array_equal(got, want)
    # a resumed run must beat the best so far before it overwrites the file
    before = path.stat().st_mtime_ns
    cb2 = BestCheckpoint(path, "val_loss", lower_is_better=True, initial_value=0.3)
    cb2.set_model(model)
    cb2.on_epoch_end(3, {"val_loss": 0.35})
    cb2.on_epoch_end(4, {"val_loss": math.nan})
    assert path.stat().st_mtime_ns == before
    cb_max = BestCheckpoint(tmp_path / "acc.npz", "val_accuracy", lower_is_better=False)
    cb_max.set_model(model)
    cb_max.on_epoch_end(0, {"val_accuracy": 0.5})
    cb_max.on_epoch_end(1, {"val_accuracy": 0.4})
    assert cb_max.best == 0.5


def test_reporter_callback_recovers_batch_loss_and_stops():
    model = tiny_dense()
    rep = RecordingReporter(stop_after_batches=3)
    cb = ReporterCallback(rep, {"epochs": 1, "steps_per_epoch": 10}, batch_size=4)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    # Keras reports the running mean: batches of loss 1, 3, 5 -> means 1, 2, 3
    for batch, mean in enumerate([1.0, 2.0, 3.0]):
        cb.on_train_batch_end(batch, {"loss": mean})
    losses = [logs["batch_loss"] for _, logs in rep.of("batch_end")]
    assert losses == [1.0, 3.0, 5.0]
    assert model.stop_training and cb.stopped_by_user


def test_reporter_callback_flags_nan():
    model = tiny_dense()
    cb = ReporterCallback(RecordingReporter(), {"epochs": 1, "steps_per_epoch": 5}, 4)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(0, {"loss": float("nan")})
    assert cb.diverged == "epoch 1, batch 1" and model.stop_training


def test_atomic_backup_leaves_a_loadable_backup_and_no_partial_file(tmp_path):
    backup = tmp_path / "backup"
    fit_with_backup(backup, epochs=2)
    names = sorted(p.name for p in backup.iterdir())
    assert names == ["latest.weights.h5", "training_metadata.json"]
    # a kill during the next write leaves only a partial file beside the complete backup
    (backup / "latest.partial.weights.h5").write_bytes(b"\x89HDF\r\n garbage")
    fit_with_backup(backup, epochs=3)
    assert (backup / "training_metadata.json").read_text().count('"epoch": 3') == 1


def test_a_kill_while_writing_the_backup_keeps_the_previous_one(tmp_path):
    backup = tmp_path / "backup"
    model = fit_with_backup(backup, epochs=2)
    saved = model.get_weights()

    def dies_mid_write(filepath, overwrite=True):
        with open(filepath, "wb") as fh:
            fh.write(b"\x89HDF\r\n\x1a\n half a file")
        raise KeyboardInterrupt("killed")

    cb = AtomicBackupAndRestore(str(backup), delete_checkpoint=False)
    cb.set_model(model)
    model.save_weights = dies_mid_write
    try:
        cb._save_model()
    except KeyboardInterrupt:
        pass
    fresh = fit_with_backup(backup, epochs=2)  # resumes at epoch 2 of 2: loads, trains nothing
    for got, want in zip(fresh.get_weights(), saved, strict=True):
        np.testing.assert_array_equal(got, want)
