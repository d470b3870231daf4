import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ftstudio.spec
from ftstudio.errors import SpecError
from ftstudio.spec import (
    ExperimentSpec,
    FreezeMode,
    Optimizer,
    OutputSpec,
    Preprocessing,
    Schedule,
    apply_override,
    choices,
    read_json_object,
)
from tests.helpers.specs import text_spec_data

TEXT = text_spec_data("x.csv", text="t", label="y")


def test_defaults_round_trip():
    spec = ExperimentSpec.from_dict(TEXT)
    again = ExperimentSpec.from_json(spec.to_json())
    assert again == spec
    assert spec.data.split == [0.8, 0.1, 0.1]
    assert spec.modality == "text"
    assert spec.label_columns() == ["y"]


@settings(max_examples=60, deadline=None)
@given(epochs=st.integers(1, 500), bs=st.integers(1, 1024), seed=st.integers(0, 2**31),
       lr=st.floats(1e-7, 1.0), opt=st.sampled_from(["sgd", "adam", "adamw", "adagrad", "rmsprop"]),
       mode=st.sampled_from(["all", "none", "last_n", "layers"]),
       n_out=st.integers(1, 3), seq=st.integers(8, 512))
def test_round_trip_property(epochs, bs, seed, lr, opt, mode, n_out, seq):
    spec = ExperimentSpec.from_dict(TEXT)
    spec.training.epochs, spec.training.batch_size, spec.training.seed = epochs, bs, seed
    spec.training.learning_rate, spec.training.optimizer = lr, opt
    spec.freeze.mode = mode
    spec.backbone.sequence_length = seq
    spec.head.outputs = [OutputSpec(name=f"o{i}", label_column=f"c{i}") for i in range(n_out)]
    assert ExperimentSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("patch, words", [
    ({"training": {"epoch": 3}}, ["unknown key 'training.epoch'", "epochs"]),
    ({"trainig": {}}, ["unknown key 'trainig'", "training"]),
    ({"training": {"epochs": "ten"}}, ["training.epochs", "an integer", "'ten'"]),
    ({"training": {"epochs": True}}, ["training.epochs"]),
    ({"training": {"optimizer": "lion"}}, ["training.optimizer", "'adamw'", "'lion'"]),
    ({"freeze": {"mode": "some"}}, ["freeze.mode", "'last_n'"]),
    ({"data": {"split": [0.5, 0.5]}}, ["data.split", "three fractions"]),
    ({"data": {"split": [0.8, 0.3, 0.1]}}, ["data.split"]),
    ({"training": {"epochs": 0}}, ["training.epochs", "at least 1"]),
    ({"training": {"learning_rate": -1}}, ["training.learning_rate"]),
    ({"head": {"layers": [{"type": "conv"}]}}, ["head.layers[0].type"]),
    ({"head": {"layers": [{"type": "dropout", "rate": 1.5}]}}, ["head.layers[0].rate"]),
    ({"head": {"outputs": []}}, ["head.outputs", "at least one"]),
    ({"head": {"outputs": [{"name": "a"}, {"name": "a"}]}}, ["unique"]),
    ({"training": {"class_weight": "auto"}}, ["class_weight", "balanced"]),
    ({"freeze": {"head_first_epochs": 5}, "training": {"epochs": 3}}, ["head_first_epochs"]),
    ({"data": {"feature_columns": ["a"]}}, ["only one input kind"]),
    ({"backbone": {"image_size": [4]}}, ["backbone.image_size"]),
    ({"training": {"steps_per_execution": -2}}, ["training.steps_per_execution", ">= 0"]),
    ({"freeze": {"layer_decay": 1.5}}, ["freeze.layer_decay", "(0, 1]"]),
    ({"freeze": {"lr_multipliers": {"encoder": -1}}}, ["freeze.lr_multipliers['encoder']"]),
    ({"freeze": {"gradual_unfreeze_epochs": -1}}, ["freeze.gradual_unfreeze_epochs"]),
    ({"backbone": {"lora_rank": -4}}, ["backbone.lora_rank", "0 (off)"]),
])
def test_validation_messages_name_the_key(patch, words):
    data = json.loads(json.dumps(TEXT))
    for section, values in patch.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    with pytest.raises(SpecError) as info:
        ExperimentSpec.from_dict(data)
    for word in words:
        assert word in str(info.value)


def test_missing_label_column_is_reported():
    with pytest.raises(SpecError, match="no label column"):
        ExperimentSpec.from_dict({"data": {"path": "x.csv", "text_column": "t"}})


def test_bad_json_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="not valid JSON"):
        ExperimentSpec.from_json("{nope")
    with pytest.raises(SpecError, match="not found"):
        ExperimentSpec.load(tmp_path / "missing.json")
    with pytest.raises(SpecError, match="JSON object"):
        ExperimentSpec.from_json("[1, 2]")


def test_load_resolves_paths_and_overrides(tmp_path):
    (tmp_path / "sub").mkdir()
    f = tmp_path / "sub" / "spec.json"
    f.write_text(json.dumps(TEXT))
    spec = ExperimentSpec.load(f, ["training.epochs=2", "data.path=other.csv",
                                  "training.class_weight=balanced", "backbone.name=minilm"])
    assert spec.training.epochs == 2
    assert spec.data.path == str((tmp_path / "sub" / "other.csv").resolve())
    assert spec.training.class_weight == "balanced"
    assert spec.backbone.name == "minilm"
    with pytest.raises(SpecError, match="training.epochs"):
        ExperimentSpec.load(f, ["training.epochs=lots"])


def test_apply_override_errors():
    with pytest.raises(SpecError, match="key=value"):
        apply_override({}, "training.epochs")
    data = {"training": 3}
    with pytest.raises(SpecError, match="not a section"):
        apply_override(data, "training.epochs=2")


def test_save_is_readable(tmp_path):
    spec = ExperimentSpec.from_dict(TEXT)
    spec.save(tmp_path / "s.json")
    assert ExperimentSpec.from_json((tmp_path / "s.json").read_text()) == spec
    assert not list(tmp_path.glob("*.tmp"))


def _keys(cls, prefix=""):
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _keys(hints[f.name], prefix + f.name + ".")
        else:
            yield prefix + f.name


def test_readme_documents_every_spec_key():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [k for k in _keys(ExperimentSpec) if f"`{k}`" not in readme and
               f"`{k}[]`" not in readme]
    assert not missing, f"README's spec table lacks: {missing}"


def test_choices_lists_a_literal_in_declared_order():
    assert choices(Optimizer) == ("sgd", "adam", "adamw", "adagrad", "rmsprop")
    assert choices(Schedule) == ("constant", "cosine", "exponential", "step")
    assert choices(FreezeMode) == ("all", "none", "last_n", "layers")
    assert choices(Preprocessing)[0] == "auto"
    with pytest.raises(TypeError, match="Literal"):
        choices(int)


def test_every_public_name_is_exported():
    for name in ftstudio.spec.__all__:
        assert getattr(ftstudio.spec, name) is not None, name
    for name in ("ExperimentSpec", "PretrainSpec", "DataSpec", "BackboneSpec", "HeadSpec",
                 "LayerSpec", "OutputSpec", "FreezeSpec", "TrainSpec", "ExportSpec",
                 "is_library_name", "apply_override", "read_json_object", "choices"):
        assert name in ftstudio.spec.__all__, name


def test_read_errors_keep_their_cause(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(SpecError, match="not valid JSON") as info:
        read_json_object(bad)
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    with pytest.raises(SpecError, match="not found") as info:
        read_json_object(tmp_path / "missing.json")
    assert isinstance(info.value.__cause__, FileNotFoundError)
