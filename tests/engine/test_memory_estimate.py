"""Memory estimates of tiny models, and the warning before a run that will not fit."""

from __future__ import annotations

import pytest

from ftstudio.engine import memory_estimate as me
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.formatting import format_bytes
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


def _dense_model():
    import keras

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    out = keras.layers.Dense(3)(hidden)
    model = keras.Model(inputs, out)
    model.layers[1].trainable = False
    return model


def test_estimate_adds_up_weights_optimizer_and_activations():
    profile = me.profile_model(_dense_model())
    assert profile.total_params == 4 * 8 + 8 + 8 * 3 + 3
    assert profile.trainable_params == 8 * 3 + 3
    assert profile.activation_values == 8 + 3  # the two Dense outputs per example
    est = me.estimate_memory(profile, batch_size=32, optimizer="adam", data_bytes=1000,
                             available=10 ** 12)
    assert est.weights == profile.total_params * 4
    assert est.gradients == 27 * 4 and est.optimizer_state == 2 * 27 * 4
    assert est.activations == 2 * 11 * 32 * 4
    assert est.ram_needed == (est.weights + est.gradients + est.optimizer_state
                              + est.activations + 1000 + me.FRAMEWORK_BYTES)
    assert est.fits_ram and est.warning() is None
    assert "parameters" in est.summary() and "free RAM" in est.summary()
    sgd = me.estimate_memory(profile, 64, "sgd")
    assert sgd.optimizer_state == 27 * 4 and sgd.activations == 2 * est.activations


def test_a_small_ram_or_gpu_gives_a_warning():
    profile = me.ModelProfile(total_params=10 ** 8, trainable_params=10 ** 8,
                              activation_values=10 ** 6)
    est = me.estimate_memory(profile, 64, "adamw", available=2 * 1024 ** 3)
    assert not est.fits_ram
    warning = est.warning()
    assert warning and "batch_size" in warning and "free" in warning
    gpu = me.estimate_memory(profile, 64, "adamw", available=10 ** 12, gpu_free=10 ** 9)
    assert gpu.fits_ram and not gpu.fits_gpu and "GPU" in (gpu.warning() or "")
    assert me.estimate_memory(profile, 1, "adamw", available=None).warning() is None


def test_transformer_layers_count_their_attention_maps():
    import keras
    import keras_hub

    seq = keras.Input((8, 4))
    encoded = keras_hub.layers.TransformerEncoder(intermediate_dim=16, num_heads=2)(seq)
    model = keras.Model(seq, encoded)
    values = me.profile_model(model, sequence_length=8).activation_values
    assert values >= 8 * 4 + 2 * 2 * 8 * 8 + 2 * 8 * 16


def test_train_warns_before_a_run_that_will_not_fit(tmp_path, monkeypatch):
    from ftstudio.engine.training import train

    spec = ExperimentSpec.from_dict(tabular_spec_data(write_tabular_csv(tmp_path / "d.csv"),
                                                      epochs=1))
    monkeypatch.setattr(me, "available_ram", lambda: 64 * 1024 ** 2)  # a faked 64 MB
    rep = RecordingReporter()
    train(spec, rep, out_dir=tmp_path / "run")
    warnings = [w[0] for w in rep.of("warning") if "memory" in w[0]]
    assert len(warnings) == 1 and f"only {format_bytes(64 * 1024 ** 2)} is free" in warnings[0]
    statuses = [s[0] for s in rep.of("status") if s[0].startswith("Memory estimate")]
    assert len(statuses) == 1 and "trainable" in statuses[0]
    monkeypatch.setattr(me, "available_ram", lambda: 64 * 1024 ** 3)
    rep = RecordingReporter()
    train(spec, rep, out_dir=tmp_path / "run2")
    assert not [w for w in rep.of("warning") if "memory" in w[0]]


@pytest.mark.parametrize("name,slots", [("adam", 2), ("sgd", 1), ("rmsprop", 1)])
def test_optimizer_slots(name, slots):
    assert me.optimizer_slots(name) == slots
