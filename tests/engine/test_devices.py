"""Devices: the plan (device, why, knobs), out-of-memory back-off and the distribution paths.

The two distribution runs need TensorFlow configured before it starts (two logical CPU
devices; a ``TF_CONFIG`` cluster), so they run in child processes: this module is also their
entry point (``python -m tests.engine.test_devices mirrored|worker SPEC OUT``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ftstudio.engine.devices import (
    DevicePlan,
    compile_options,
    in_plan_precision,
    machine_device,
    model_scope,
    plan_devices,
    steps_per_execution,
)
from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec, TrainSpec
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv

ROOT = Path(__file__).resolve().parents[2]


def test_the_plan_on_a_cpu_machine_says_why_and_keeps_gpu_knobs_off():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    plan = plan_devices(TrainSpec())
    assert plan.device == "CPU" and not plan.on_gpu
    assert plan.reason  # why no GPU: TensorFlow without CUDA, or no GPU found
    assert not plan.mixed_precision and not plan.jit_compile
    assert plan.steps_per_execution == 1 and plan.distribution is None
    assert plan.describe().startswith(f"Training on CPU ({plan.reason}): float32, no XLA")
    assert plan.to_json()["reason"] == plan.reason
    assert machine_device() == f"CPU ({plan.reason})"
    forced = plan_devices(TrainSpec(mixed_precision="on", jit_compile="on",
                                    steps_per_execution=4, devices="cpu"))
    assert forced.mixed_precision and forced.jit_compile
    assert forced.reason == "training.devices is 'cpu'"
    assert "mixed precision, XLA, 4 steps per execution" in forced.describe()
    with pytest.raises(SpecError, match="training.devices is 'gpu'"):
        plan_devices(TrainSpec(devices="gpu"))


def test_steps_per_execution_divides_the_epoch():
    assert steps_per_execution(0, 100, on_gpu=True) == 25  # largest divisor of 100 <= 32
    assert steps_per_execution(0, 100, on_gpu=False) == 1
    assert steps_per_execution(8, 12, on_gpu=False) == 6
    assert steps_per_execution(50, 7, on_gpu=True) == 7
    assert steps_per_execution(4, 7, on_gpu=True) == 1
    assert compile_options(None, 10) == {}
    plan = DevicePlan(device="GPU: x", on_gpu=True, jit_compile=True, steps_per_execution=0)
    assert compile_options(plan, 64) == {"jit_compile": True, "steps_per_execution": 32}


def test_mixed_precision_builds_float16_layers_with_float32_outputs(tmp_path):
    import keras

    from ftstudio.engine import backbones, heads
    from ftstudio.engine.datasets import prepare_data
    from ftstudio.engine.reporting import BaseReporter

    spec = ExperimentSpec.from_dict(tabular_spec_data(write_tabular_csv(tmp_path / "t.csv")))
    prepared = prepare_data(spec, BaseReporter())
    before = keras.mixed_precision.global_policy().name
    with model_scope(DevicePlan(device="CPU", mixed_precision=True)):
        backbone = backbones.load_backbone(spec.backbone, "tabular")
        model = heads.build_model(backbone, spec, prepared.output_sizes, prepared.feature_stats)
    assert keras.mixed_precision.global_policy().name == before
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense[0].compute_dtype == "float16"
    assert model.get_layer("label").compute_dtype == "float32"
    assert model.outputs[0].dtype == "float32"


def test_a_float32_model_from_a_file_is_rebuilt_in_mixed_precision():
    import numpy as np

    from tests.helpers.models import tiny_cnn

    model = tiny_cnn(16)
    assert in_plan_precision(model, DevicePlan(device="CPU")) is model
    mixed = in_plan_precision(model, DevicePlan(device="CPU", mixed_precision=True))
    convs = [layer for layer in mixed.layers if "conv" in layer.name]
    assert convs and all(layer.compute_dtype == "float16" for layer in convs)
    assert all(w.dtype == "float32" for w in mixed.weights)
    x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(mixed(x), "float32"), np.asarray(model(x)),
                               atol=2e-2)


def test_out_of_memory_halves_the_batch_and_continues_from_the_last_epoch(tmp_path,
                                                                       monkeypatch):
    import keras
    import tensorflow as tf

    from ftstudio.engine import fitting
    from ftstudio.engine.reporting import RecordingReporter
    from ftstudio.engine.training import train

    class RunsOutOfMemoryOnce(keras.callbacks.Callback):
        raised = False

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 2 and not RunsOutOfMemoryOnce.raised:
                RunsOutOfMemoryOnce.raised = True
                raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")

    real_callbacks = fitting._callbacks
    batch_sizes = []

    def with_oom(run, fit, i, reporter, info, batch_size, stopper):
        batch_sizes.append((batch_size, fit.steps))
        callbacks, watcher = real_callbacks(run, fit, i, reporter, info, batch_size, stopper)
        return [RunsOutOfMemoryOnce(), *callbacks], watcher

    monkeypatch.setattr(fitting, "_callbacks", with_oom)
    spec = ExperimentSpec.from_dict(tabular_spec_data(write_tabular_csv(tmp_path / "t.csv")))
    reporter = RecordingReporter()
    result = train(spec, reporter, out_dir=tmp_path / "run")
    warnings = [args[0] for args in reporter.of("warning")]
    assert "Out of device memory with batch 16: continuing with batch 8 from epoch 2" \
        in warnings
    assert batch_sizes == [(16, 12), (8, 24)]  # 192 training rows
    assert [int(row["epoch"]) for row in result.history] == [0, 1, 2]
    assert result.metrics["test.accuracy"] > 0.5
    env = json.loads((result.run_dir / "env.json").read_text())
    assert env["devices"]["device"] == env["device"]
    assert env["devices"]["strategy"] == "one device"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def test_two_logical_cpus_mirrored_and_two_localhost_workers_train(tmp_path):
    csv = write_tabular_csv(tmp_path / "t.csv")
    spec = write_json(tmp_path / "spec.json",
                      tabular_spec_data(csv, epochs=2, batch_size=16, devices="all_gpus",
                                        baseline=False))
    ports = [_free_port(), _free_port()]
    children = []
    base_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children.append(subprocess.Popen(
        [sys.executable, "-m", "tests.engine.test_devices", "mirrored", str(spec),
         str(tmp_path / "mirrored")], cwd=ROOT, env=base_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}}
        children.append(subprocess.Popen(
            [sys.executable, "-m", "tests.engine.test_devices", "worker", str(spec),
             str(tmp_path / f"worker{index}")], cwd=ROOT,
            env={**base_env, "TF_CONFIG": json.dumps(tf_config)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for child in children:
        out, _ = child.communicate(timeout=400)
        assert child.returncode == 0, out[-3000:]
    mirrored = json.loads((tmp_path / "mirrored" / "env.json").read_text())["devices"]
    assert mirrored["strategy"] == "MirroredStrategy" and mirrored["replicas"] == 2
    assert mirrored["device"] == "CPU (2 logical devices)"
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text())
               for name in ("mirrored", "worker0", "worker1")]
    assert all(m["test.accuracy"] > 0.5 for m in metrics)
    for index in range(2):
        env = json.loads((tmp_path / f"worker{index}" / "env.json").read_text())["devices"]
        assert env["strategy"] == "MultiWorkerMirroredStrategy" and env["replicas"] == 2
    # the workers trained one model together: the same weights, so the same test scores
    assert metrics[1]["test.loss"] == pytest.approx(metrics[2]["test.loss"], rel=1e-5)


def _child(kind: str, spec_path: str, out: str) -> None:
    """A distribution run in this fresh process (TensorFlow not yet started)."""
    import tensorflow as tf

    from ftstudio.engine.training import train

    if kind == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    result = train(ExperimentSpec.load(spec_path), out_dir=out)
    print(json.dumps(result.metrics))


if __name__ == "__main__":
    _child(*sys.argv[1:4])
