"""Fuzzing the two readers of user input: the spec parser and the CSV reader.

Whatever hypothesis throws at them, the only failures allowed are the clear one-sentence
errors (``SpecError``, ``DataError``), never another exception (a traceback for the user).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftstudio.errors import DataError, SpecError
from ftstudio.spec import ExperimentSpec, apply_override

# derandomize: the same examples on every run, so CI cannot fail by the draw of the day
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _keys(cls: typing.Any, prefix: str = "") -> list[str]:
    """Every dotted key of the spec (sections and values)."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        out.append(prefix + f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            out += _keys(hints[f.name], prefix + f.name + ".")
    return out


KEYS = _keys(ExperimentSpec)
SECTIONS = [f.name for f in dataclasses.fields(ExperimentSpec)]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.one_of(st.sampled_from(KEYS + ["name", "units", "task"]), st.text(max_size=6)),
        inner, max_size=4),
    max_leaves=12)
spec_like = st.dictionaries(st.sampled_from(SECTIONS + ["extra"]),
                            st.one_of(json_values, st.dictionaries(
                                st.sampled_from([k.split(".")[-1] for k in KEYS]),
                                json_values, max_size=5)),
                            max_size=6)


BASE = {"name": "fuzz", "data": {"path": "d.csv", "text_column": "text",
                                 "label_column": "label"},
        "head": {"layers": [{"type": "dense", "units": 8}]},
        "training": {"epochs": 2, "optimizer": "adam"}}
plausible = st.one_of(json_values, st.sampled_from(
    [0, 1, 2, 3, 0.5, -1, 1e9, "adam", "sgd", "text", "classification", "regression", "step",
     [0.8, 0.1, 0.1], [0.5, 0.5], None, True, False, "label", "keras", {}, [{}]]))


def _with(data: dict, key: str, value: typing.Any) -> dict:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value
    return data


def _mutated(changes: list[tuple[str, typing.Any]]) -> dict:
    data = json.loads(json.dumps(BASE))
    for key, value in changes:
        _with(data, key, value)
    return data


mutated_specs = st.lists(st.tuples(st.sampled_from(KEYS), plausible), max_size=3).map(_mutated)


@FUZZ
@given(st.one_of(spec_like, mutated_specs))
def test_any_spec_data_is_a_spec_or_a_spec_error(data):
    try:
        spec = ExperimentSpec.from_dict(data)
    except SpecError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert ExperimentSpec.from_json(spec.to_json()) == spec


@FUZZ
@given(st.text(max_size=200))
def test_any_spec_text_is_a_spec_or_a_spec_error(text):
    try:
        ExperimentSpec.from_json(text)
    except SpecError:
        pass


_override_values = st.one_of(st.text(max_size=20), st.sampled_from(
    ["3", "[1,2]", "{}", "null", "true", "-1e400", "NaN", '{"a": 1}', "[[[["]))
overrides = st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=20)),
                      _override_values).map(lambda kv: f"{kv[0]}={kv[1]}") | st.text(max_size=20)


@FUZZ
@given(st.lists(overrides, max_size=4))
def test_any_set_overrides_are_a_spec_or_a_spec_error(tmp_path_factory, items):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "spec.json"
    path.write_text(json.dumps({"data": {"path": "d.csv", "text_column": "text",
                                         "label_column": "label"}}))
    try:
        ExperimentSpec.load(path, items)
    except SpecError as exc:
        assert str(exc)
    data: dict = {}
    for item in items:
        try:
            apply_override(data, item, ExperimentSpec)
        except SpecError:
            pass


# ------------------------------------------------------------------ the CSV reader
cells = st.one_of(st.text(max_size=8), st.sampled_from(
    ["", "NaN", "inf", "-inf", "1e400", "1", "2.5", '"', '""', "a,b", "\n", "\r", "\t", "\x00",
     "é", "\ufeff", "NA", "null"]))
csv_texts = st.lists(st.lists(cells, min_size=1, max_size=4), min_size=0, max_size=8).map(
    lambda rows: "\n".join(",".join(r) for r in rows))


@FUZZ
@given(csv_texts, st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
def test_any_csv_text_is_a_table_or_a_data_error(tmp_path_factory, text, encoding):
    from ftstudio.engine.data import preview_table, read_table

    path = Path(tmp_path_factory.mktemp("csv")) / "t.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        path.write_bytes(text.encode("utf-8"))
    for read in (read_table, preview_table):
        try:
            frame, warnings = read(path)
        except DataError as exc:
            assert str(exc)
            continue
        assert all(isinstance(w, str) for w in warnings)
        assert len(frame.columns) >= 1


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_a_table_or_a_data_error(tmp_path_factory, raw):
    from ftstudio.engine.data import read_table

    path = Path(tmp_path_factory.mktemp("bin")) / "t.csv"
    path.write_bytes(raw)
    try:
        read_table(path)
    except DataError:
        pass


@FUZZ
@given(csv_texts, st.sampled_from(["tabular", "text"]))
def test_any_csv_loads_as_data_or_a_data_error(tmp_path_factory, text, modality):
    from ftstudio.engine.data import load_data

    path = Path(tmp_path_factory.mktemp("load")) / "t.csv"
    path.write_text("a,b,label\n" + text, encoding="utf-8")
    data = {"path": str(path), "label_column": "label"}
    data.update({"feature_columns": ["a", "b"]} if modality == "tabular" else
                {"text_column": "a"})
    try:
        loaded = load_data(ExperimentSpec.from_dict({"data": data}))
    except (DataError, SpecError):
        return
    assert len(loaded.row_ids) == len(loaded.inputs) > 0




def test_an_unknown_key_with_a_newline_is_named_on_one_line():
    """Found by the fuzzer: a key holding a newline was echoed raw into the message."""
    data = {"name": "x", "data": {"path": "d.csv", "text_column": "t", "label_column": "l"},
            "freeze": {"\n": None}}
    with pytest.raises(SpecError) as info:
        ExperimentSpec.from_dict(data)
    assert "\n" not in str(info.value) and "'freeze.\\n'" in str(info.value)
