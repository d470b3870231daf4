"""Exports that provably work: every format of a tiny text, image and tabular run, each loaded
back in a fresh process (no ftstudio) and compared with the in-app model on the test split."""

from __future__ import annotations

import argparse
import csv
import importlib.abc
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine import export as export_module
from ftstudio.engine.export import EXPORT_FORMATS, REPORT_FILE, TOLERANCES, export_run
from ftstudio.engine.export_formats import missing_dependency
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.models import BERT_VOCAB, save_model, tiny_bert_preset, tiny_cnn
from tests.helpers.specs import write_image_folder, write_tabular_csv

ROOT = Path(__file__).resolve().parents[2]
ALL_KEYS = ["keras", "savedmodel", "tflite", "tflite-int8", "onnx"]


def _train(spec: dict, run: Path, reporter=None) -> Path:
    from ftstudio.engine.training import train

    train(ExperimentSpec.from_dict(spec), reporter, out_dir=run)
    return run


def _write_text_csv(path: Path, rows: int = 60) -> Path:
    rng = np.random.default_rng(0)
    words = BERT_VOCAB[5:]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = "pos" if i % 2 else "neg"
            text = " ".join([*rng.choice(words, 4), "good" if label == "pos" else "bad"])
            writer.writerow([text, label])
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("export_home")
        patch.setenv("FTSTUDIO_HOME", str(home))
        yield tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def text_run(workdir):
    spec = {"name": "text", "data": {"path": str(_write_text_csv(workdir / "text.csv")),
                                      "text_column": "text", "label_column": "label"},
            "backbone": {"source": "keras_hub", "path": str(tiny_bert_preset(workdir / "bert")),
                         "sequence_length": 8},
            "training": {"epochs": 1, "batch_size": 8}}
    return _train(spec, workdir / "text_run")


@pytest.fixture(scope="module")
def image_run(workdir):
    folder = write_image_folder(workdir / "images")
    spec = {"name": "image", "data": {"image_dir": str(folder), "label_column": "label"},
            "backbone": {"source": "file", "preprocessing": "scale_0_1",
                         "path": str(save_model(tiny_cnn(16), workdir / "cnn.keras"))},
            "training": {"epochs": 1, "batch_size": 8}}
    return _train(spec, workdir / "image_run")


@pytest.fixture(scope="module")
def tabular_run(workdir):
    spec = {"name": "tab", "data": {"path": str(write_tabular_csv(workdir / "tab.csv")),
                                     "feature_columns": ["f0", "f1", "f2", "f3"],
                                     "label_column": "label"},
            "backbone": {"source": "none"},
            "head": {"layers": [{"type": "dense", "units": 8}]},
            "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.01}}
    return _train(spec, workdir / "tab_run")


@pytest.fixture(scope="module")
def exports(text_run, image_run, tabular_run):
    """Every format (and the int8 TFLite) of each tiny run."""
    return {name: export_run(run, list(EXPORT_FORMATS), quantize=True)
            for name, run in (("text", text_run), ("image", image_run),
                              ("tabular", tabular_run))}


# ------------------------------------------------------------------ every format, parity
@pytest.mark.parametrize("modality", ["text", "image", "tabular"])
def test_every_format_loads_in_a_fresh_process_and_matches_the_app(exports, modality):
    result = exports[modality]
    assert result.ok, [r.error for r in result.results]
    assert [r.key for r in result.results] == ALL_KEYS
    for r in result.results:
        p = r.parity
        assert p is not None and p.split == "test" and p.examples == p.total > 0
        if not r.quantized:
            assert p.tolerance == TOLERANCES[r.format]
            assert p.max_abs_diff <= TOLERANCES[r.format], r.key
            out = p.outputs[0]
            assert out.metric == "accuracy" and out.exported == out.app and out.agreement == 1
        assert r.file is not None and r.file.exists() and r.size_bytes > 0
        assert r.folder == result.out_dir / r.format
    keras_result = result.results[0]
    assert keras_result.parity.max_abs_diff == 0.0  # the same weights, the same Keras


@pytest.mark.parametrize("modality", ["text", "image", "tabular"])
def test_each_export_folder_holds_its_files_and_report(exports, modality):
    result = exports[modality]
    out = result.out_dir
    assert out == result.run_dir / "export"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left
    assert not list(out.rglob("__pycache__"))
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["ok"] is True and [f["key"] for f in report["formats"]] == ALL_KEYS
    assert report["app"]["label"]["metric"] == "accuracy"
    for fmt, artefact in (("keras", "model.keras"), ("savedmodel", "saved_model/saved_model.pb"),
                          ("tflite", "model_int8.tflite"), ("onnx", "model.onnx")):
        folder = out / fmt
        for name in (artefact, "labels.json", "README.txt", REPORT_FILE):
            assert (folder / name).is_file(), f"{fmt}/{name}"
        assert json.loads((folder / "labels.json").read_text())["label"]
        assert "Example (run it inside this folder)" in (folder / "README.txt").read_text()
        formats = json.loads((folder / REPORT_FILE).read_text())["formats"]
        assert {f["format"] for f in formats} == {fmt}
    assert (out / "keras" / "ftstudio_layers.py").is_file()
    text = modality == "text"
    for fmt in ("keras", "tflite", "onnx"):
        assert (out / fmt / "preprocessor" / "tokenizer.json").is_file() == text
    for fmt in ("tflite", "onnx"):
        assert (out / fmt / "tokenizer_settings.json").is_file() == text


def test_text_exports_ship_the_exact_tokenizer_settings(exports):
    settings = json.loads((exports["text"].out_dir / "onnx" / "tokenizer_settings.json")
                          .read_text())
    assert settings["sequence_length"] == 8 and settings["tokenizer"] == "BertTokenizer"
    assert settings["special_token_ids"]["cls_token"] == BERT_VOCAB.index("[CLS]")
    assert settings["vocabulary_files"] == ["preprocessor/assets/tokenizer/vocabulary.txt"]
    assert set(settings["inputs"]) == {"token_ids", "padding_mask", "segment_ids"}


def test_the_onnx_file_takes_only_the_model_inputs(exports):
    """A Normalization layer's mean and variance are constants, not inputs to feed."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(exports["tabular"].out_dir / "onnx" /
                                               "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["features"]
    assert [o.name for o in session.get_outputs()] == ["label"]


def test_the_image_savedmodel_takes_raw_uint8_images_of_any_size(exports):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exports["image"].out_dir / "savedmodel" / "saved_model"))
    probs = loaded.serve(tf.zeros((2, 40, 30, 3), tf.uint8))["label"].numpy()
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_every_readme_example_runs_in_a_fresh_python(exports, workdir):
    """The README scripts predict as written (one child for all twelve folders)."""
    photo = next((workdir / "images").rglob("*.png"))
    folders = []
    for result in exports.values():
        for fmt in ("keras", "savedmodel", "tflite", "onnx"):
            folder = result.out_dir / fmt
            shutil.copyfile(photo, folder / "photo.jpg")  # decoders read by content
            folders.append(str(folder))
    script = (
        "import os, sys\n"
        "for folder in sys.argv[1:]:\n"
        "    os.chdir(folder)\n"
        "    code = open('README.txt').read().split('inside this folder):', 1)[1]\n"
        "    exec(compile(code, folder + '/README.txt', 'exec'), {})\n"
        "print('ftstudio' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-I", "-B", "-c", script, *folders],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert done.stdout.count("label [") == 12


# ------------------------------------------------------------------ failures
@pytest.fixture
def odd_run(tabular_run, tmp_path):
    """The tabular run with a layer whose op (Erfinv) neither TFLite nor ONNX has."""
    import keras

    @keras.saving.register_keras_serializable(package="ftstudio_tests")
    class OddActivation(keras.layers.Layer):
        def call(self, x):
            return keras.ops.erfinv(keras.ops.tanh(x) * 0.5)

    run = tmp_path / "odd_run"
    shutil.copytree(tabular_run, run, ignore=shutil.ignore_patterns("export"))
    inputs = keras.Input((4,), name="features")
    x = OddActivation(name="odd")(inputs)
    outputs = {"label": keras.layers.Dense(3, activation="softmax", name="label")(x)}
    keras.Model(inputs, outputs).save(run / "model.keras")
    return run


def test_a_blocked_conversion_names_the_op_and_layer_and_the_rest_still_runs(odd_run):
    result = export_run(odd_run, ["savedmodel", "tflite", "onnx"])
    by_key = {r.key: r for r in result.results}
    assert by_key["savedmodel"].ok
    for key, what in (("tflite", "TFLite"), ("onnx", "ONNX")):
        error = by_key[key].error
        assert error.startswith(f"{what} cannot convert the op Erfinv in layer 'odd'"), error
        assert "Try the SavedModel" in error
        assert by_key[key].parity is None and by_key[key].file is None
        assert not (result.out_dir / key).exists()
    assert not result.ok
    report = json.loads(result.report_path.read_text())
    assert [f["ok"] for f in report["formats"]] == [True, False, False]
    assert not [p for p in result.out_dir.iterdir() if p.name.startswith(".")]


def test_a_parity_failure_is_an_error_and_keeps_nothing(tabular_run, tmp_path, monkeypatch):
    real = export_module.app_outputs

    def drifted(loaded, data):
        return {k: v + 0.01 for k, v in real(loaded, data).items()}

    monkeypatch.setattr(export_module, "app_outputs", drifted)
    result = export_run(tabular_run, ["keras"], out_dir=tmp_path / "out")
    [keras_result] = result.results
    assert not keras_result.ok and keras_result.parity.max_abs_diff == pytest.approx(0.01)
    assert "predicts differently from the studio" in keras_result.error
    assert "not saved" in keras_result.error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [REPORT_FILE]


class _BrokenTf2onnx(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import tf2onnx`` raising AttributeError, as an old tf2onnx does with NumPy 2."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name == "tf2onnx" else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise AttributeError("module 'numpy' has no attribute 'object'")


def test_missing_optional_packages_say_what_to_install(tabular_run, tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "tf2onnx", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenTf2onnx(), *sys.meta_path])
    message = missing_dependency("onnx")
    assert "AttributeError" in message and "pip install 'ftstudio[export]'" in message
    monkeypatch.setattr(sys, "meta_path", sys.meta_path[1:])

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ai_edge_litert"
                        else real_find_spec(name, *a))
    result = export_run(tabular_run, ["tflite"], out_dir=tmp_path / "out")
    assert result.results[0].error == (
        "tflite export needs the 'ai-edge-litert' package: pip install 'ftstudio[export]'  "
        "(or: pip install 'tf2onnx>=1.17,<1.18' 'onnxruntime>=1.20' 'ai-edge-litert>=2.0')")
    assert not (tmp_path / "out" / "tflite").exists()


def test_an_unknown_format_is_a_spec_error(tabular_run):
    with pytest.raises(SpecError, match="unknown export format 'pdf'"):
        export_run(tabular_run, ["keras", "pdf"])


# ------------------------------------------------------------------ the CLI command
def test_the_export_command_prints_a_line_per_file(tabular_run, tmp_path, capsys):
    from ftstudio.cli import export as export_cli

    parser = argparse.ArgumentParser()
    export_cli.register(parser.add_subparsers())
    out = tmp_path / "cli_out"
    args = parser.parse_args(["export", str(tabular_run), "--format", "keras,onnx",
                              "--out", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "keras        ok" in printed and "onnx         ok" in printed
    assert "label accuracy" in printed and str(out / REPORT_FILE) in printed
    assert sorted(p.name for p in out.iterdir()) == [REPORT_FILE, "keras", "onnx"]


# ------------------------------------------------------------------ the real MiniLM
@pytest.mark.pretrained
@pytest.mark.slow
def test_minilm_exports_to_savedmodel_and_keras_that_predict_raw_text(tmp_path):
    from ftstudio.engine.training import train

    spec = ExperimentSpec.load(ROOT / "examples/text_classification.json", [
        "training.epochs=1", "backbone.sequence_length=32", "training.schedule=constant",
        "training.warmup_fraction=0", "training.learning_rate=0.0001",
        "freeze.head_first_epochs=0"])
    train(spec, out_dir=tmp_path / "run")
    result = export_run(tmp_path / "run", ["keras", "savedmodel"], max_examples=40)
    assert result.ok, [r.error for r in result.results]
    for r in result.results:
        assert r.parity.max_abs_diff <= TOLERANCES[r.format] and r.parity.examples == 40
    script = (
        "import sys, keras, keras_hub, tensorflow as tf, tensorflow_text\n"
        "sys.path.insert(0, sys.argv[1])\nimport ftstudio_layers\n"
        "model = keras.saving.load_model(sys.argv[1] + '/model.keras')\n"
        "pre = keras_hub.models.TextClassifierPreprocessor.from_preset(sys.argv[1] + "
        "'/preprocessor')\n"
        "texts = ['Wonderful, I loved every minute.', 'Terrible. A waste of money and time.']\n"
        "a = model.predict(pre(texts), verbose=0)['label']\n"
        "saved = tf.saved_model.load(sys.argv[2])  # keep it: its variables live on it\n"
        "b = saved.serve(tf.constant(texts))['label'].numpy()\n"
        "print(abs(a - b).max(), a.argmax(axis=1).tolist())\n")
    done = subprocess.run([sys.executable, "-I", "-B", "-c", script,
                           str(result.out_dir / "keras"),
                           str(result.out_dir / "savedmodel" / "saved_model")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    diff, classes = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert float(diff) < 1e-5
    labels = json.loads((result.out_dir / "keras" / "labels.json").read_text())["label"]
    assert [labels[i] for i in json.loads(classes)] == ["positive", "negative"]


# ------------------------------------------------------------------ end of training
def test_spec_export_formats_run_at_the_end_of_training(workdir, tmp_path):
    out = tmp_path / "exports"
    spec = {"name": "tab_export", "data": {"path": str(write_tabular_csv(workdir / "tab2.csv")),
                                           "feature_columns": ["f0", "f1", "f2", "f3"],
                                           "label_column": "label"},
            "backbone": {"source": "none"},
            "head": {"layers": [{"type": "dense", "units": 8}]},
            "training": {"epochs": 1, "batch_size": 16, "learning_rate": 0.01},
            "export": {"formats": ["keras", "tflite"], "dir": str(out)}}
    reporter = RecordingReporter()
    run = _train(spec, tmp_path / "run", reporter=reporter)
    report = json.loads((out / REPORT_FILE).read_text())
    assert {r["key"] for r in report["formats"]} == {"keras", "tflite"}
    assert all(r["ok"] and r["parity"]["passed"] for r in report["formats"]), report
    assert (out / "tflite" / "labels.json").is_file()
    assert (run / "model.keras").is_file()
    assert not [w for (w,) in reporter.of("warning") if "Export" in w]
