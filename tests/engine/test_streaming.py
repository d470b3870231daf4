"""Streamed data: the first pass, the split, the batches and a whole run match in-memory data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.data import (
    CsvStream,
    ImageStream,
    feature_stats,
    is_streamed,
    iter_split_inputs,
    load_data,
    streaming_wanted,
)
from ftstudio.engine.data import streaming as streaming_module
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import DataError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import (
    image_spec_data,
    tabular_spec_data,
    write_image_folder,
    write_tabular_csv,
)


def streamed_spec(data: dict, mode: str = "on") -> ExperimentSpec:
    data = json.loads(json.dumps(data))
    data["data"]["streaming"] = mode
    return ExperimentSpec.from_dict(data)


def dirty_tabular_csv(path: Path) -> Path:
    """The helper's tabular CSV with a missing feature, an empty label, a ragged and a blank row."""
    lines = write_tabular_csv(path, n=300).read_text().splitlines()
    lines[5] = "NA," + lines[5].split(",", 1)[1]
    lines[7] = ",".join(lines[7].split(",")[:-2] + ["", "1"])
    lines.insert(9, "1,2,3")
    lines.insert(12, "")
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_same_data(a, b) -> None:
    assert b.warnings == a.warnings
    np.testing.assert_array_equal(b.row_ids, a.row_ids)
    assert b.classes == a.classes
    assert b.targets.keys() == a.targets.keys()
    for col in a.targets:
        np.testing.assert_array_equal(b.targets[col], a.targets[col])
        assert b.targets[col].dtype == a.targets[col].dtype


def test_first_pass_matches_the_in_memory_loader(tmp_path: Path) -> None:
    path = dirty_tabular_csv(tmp_path / "t.csv")
    spec = streamed_spec({**tabular_spec_data(path), "head": {"outputs": [
        {"name": "label"}, {"name": "target", "label_column": "target",
                            "task": "regression"}]}})
    rep = RecordingReporter()
    in_memory, streamed = load_data(spec), load_data(spec, rep, stream=True)
    assert in_memory.stream is None and isinstance(streamed.stream, CsvStream)
    assert len(streamed.inputs) == 0 and streamed.feature_names == in_memory.feature_names
    assert len(in_memory.warnings) == 3  # ragged, empty label, missing feature
    assert_same_data(in_memory, streamed)
    assert rep.of("progress")[-1] == (path.stat().st_size, path.stat().st_size)
    every_third = np.arange(0, len(in_memory.row_ids), 3)
    read = np.concatenate(list(iter_split_inputs(streamed, every_third, chunk=17)))
    np.testing.assert_array_equal(read, in_memory.inputs[every_third])
    x = in_memory.inputs[every_third]
    mean, var = feature_stats(streamed, every_third)  # one chunk: exactly the in-memory stats
    np.testing.assert_array_equal(mean, x.mean(axis=0))
    np.testing.assert_array_equal(var, x.var(axis=0))


def test_feature_stats_merge_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = streamed_spec(tabular_spec_data(write_tabular_csv(tmp_path / "t.csv", n=200)))
    in_memory, streamed = load_data(spec), load_data(spec, stream=True)
    monkeypatch.setattr(streaming_module, "SHUFFLE_WINDOW_ROWS", 23)
    mean, var = feature_stats(streamed, np.arange(200))
    np.testing.assert_allclose(mean, in_memory.inputs.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, in_memory.inputs.var(axis=0), rtol=1e-5, atol=1e-6)


def test_text_and_number_labels_match(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('text,label,score\n"hello, world",pos,1\n  ,neg,2.0\nbad one,,1\n'
                    '"multi\nline",neg,2\nok,pos,nan\nfine,neg,1\nNA,pos,2\nmore,neg,1\n')
    for label in ("label", "score"):
        spec = streamed_spec({"data": {"path": str(path), "text_column": "text",
                                       "label_column": label}})
        in_memory, streamed = load_data(spec), load_data(spec, stream=True)
        assert_same_data(in_memory, streamed)
        read = np.concatenate(list(iter_split_inputs(streamed, np.arange(len(
            streamed.row_ids)))))
        assert list(read) == list(in_memory.inputs)
    assert in_memory.classes == {"score": ["1", "2"]}


@pytest.mark.parametrize(("body", "message"), [
    ("1,2,3,4,a\n1,2,x,4,b\n1,2,3,4,a\n1,2,3,4,b\n",
     "column 'f2' (a feature column) has a non-numeric value 'x' at line 3 of bad.csv"),
    ("1,2,3,4,a\n1,2,3,4,a\n1,2,3,4,b\n", "fewer than 2 rows"),
    ("1,2,3,4,a\n1,2,3,4,a\n" + "1,2\n" * 3, "do not have the header's 5 fields (first at "
                                              "line 4)"),
    ('1,2,3,4,a\n1,2,3,4,a\n1,2,3,4,b\n1,2,3,"4,b\n1,2,3,4,b\n', "line 5 of bad.csv opens a "
                                                                 "quote"),
])
def test_first_pass_errors_name_the_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("f0,f1,f2,f3,label\n" + body)
    spec = streamed_spec(tabular_spec_data(path))
    with pytest.raises(DataError) as in_memory:
        load_data(spec)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) \
            as streamed:
        load_data(spec, stream=True)
    assert str(streamed.value) == str(in_memory.value)


def test_streaming_auto_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_tabular_csv(tmp_path / "t.csv", n=50)
    auto = streamed_spec(tabular_spec_data(path), "auto")
    assert not streaming_wanted(auto)
    assert streaming_wanted(streamed_spec(tabular_spec_data(path), "on"))
    monkeypatch.setattr(streaming_module, "STREAM_CSV_BYTES", path.stat().st_size - 1)
    assert streaming_wanted(auto)
    assert not streaming_wanted(streamed_spec(tabular_spec_data(path), "off"))
    assert load_data(auto).stream is None  # only training (stream=True) streams
    folder = write_image_folder(tmp_path / "img", per_class=3)
    images = streamed_spec(image_spec_data(folder), "auto")
    assert not streaming_wanted(images)
    monkeypatch.setattr(streaming_module, "STREAM_IMAGE_FILES", 5)
    assert streaming_wanted(images)


class _TextBackbone:
    """A stand-in text backbone whose preprocessor is a tiny TensorFlow function."""

    image_shape = None

    @staticmethod
    def preprocessor(texts):
        import tensorflow as tf

        return {"length": tf.strings.length(texts), "text": texts}


def _batches(ds) -> list:
    import tensorflow as tf

    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds]


def _prepared(spec: ExperimentSpec):
    from ftstudio.engine.datasets import prepare_data

    return prepare_data(spec, RecordingReporter())


def _in_memory(spec: ExperimentSpec):
    return _prepared(streamed_spec(spec.to_dict(), "off"))


def test_text_batches_match_in_memory_batches(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ftstudio.engine import streamed_datasets
    from ftstudio.engine.datasets import make_dataset, tokenise_split

    path = tmp_path / "r.csv"
    rows = [f"review {i} {'good' if i % 3 else 'bad'}" for i in range(41)]
    path.write_text("text,label\n" + "".join(f"{r},{r.split()[-1]}\n" for r in rows))
    spec = streamed_spec({"data": {"path": str(path), "text_column": "text",
                                   "label_column": "label"}})
    streamed, in_memory = _prepared(spec), _in_memory(spec)
    assert streamed.saved_splits() == in_memory.saved_splits()
    tokens = tokenise_split(streamed, _TextBackbone, "train", chunk=5)  # read back in chunks
    expected = tokenise_split(in_memory, _TextBackbone, "train")
    assert tokens.keys() == expected.keys() == {"length", "text"}
    in_chunks = tokenise_split(in_memory, _TextBackbone, "train", chunk=5)  # several calls
    for key in tokens:
        np.testing.assert_array_equal(tokens[key], expected[key])
        np.testing.assert_array_equal(in_chunks[key], expected[key])
    table = dataclasses.replace(streamed.data, modality="tabular", inputs=np.zeros((41, 2)))
    assert is_streamed(streamed.data) and not is_streamed(table)  # e.g. cached features
    backbone = _TextBackbone()
    args = ("train", 4, 7, True)
    a = _batches(make_dataset(in_memory, backbone, *args, epochs=(1, 3)))
    b = _batches(make_dataset(streamed, backbone, *args, epochs=(1, 3)))
    assert len(a) == len(b) == 2 * 9
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xb["text"], xa["text"])
        np.testing.assert_array_equal(yb["label"], ya["label"])
    # a split longer than the shuffle window: each row once per epoch, labels still aligned
    monkeypatch.setattr(streamed_datasets, "SHUFFLE_WINDOW_ROWS", 5)
    c = _batches(make_dataset(streamed, backbone, *args, epochs=(0, 1)))
    texts = [t.decode() for x, _ in c for t in x["text"]]
    assert sorted(texts) == sorted(rows[i - 1] for i in streamed.saved_splits()["train"])
    classes = streamed.data.classes["label"]
    for x, y in c:
        assert [t.decode().split()[-1] for t in x["text"]] == [classes[k] for k in y["label"]]
    test = _batches(make_dataset(streamed, backbone, "test", 4, 7, False, with_targets=False))
    assert [t for x in test for t in x["text"]] == [
        rows[i - 1].encode() for i in streamed.saved_splits()["test"]]


def test_image_folder_streams_paths_only(tmp_path: Path) -> None:
    from ftstudio.engine.datasets import load_images_of_splits, make_dataset

    folder = write_image_folder(tmp_path / "img", per_class=6)
    spec = streamed_spec(image_spec_data(folder))
    streamed, in_memory = _prepared(spec), _in_memory(spec)
    data = streamed.data
    assert isinstance(data.stream, ImageStream)
    assert data.inputs.dtype == object and all(isinstance(p, str) for p in data.inputs)
    assert streamed.saved_splits() == in_memory.saved_splits()

    class Backbone:
        image_shape = (16, 16, 3)
        preprocessor = None

    assert load_images_of_splits(streamed, Backbone) == {}
    images = load_images_of_splits(in_memory, Backbone)
    a = _batches(make_dataset(in_memory, Backbone, "train", 3, 1, True,
                              images=images["train"], epochs=(0, 2)))
    b = _batches(make_dataset(streamed, Backbone, "train", 3, 1, True, epochs=(0, 2)))
    assert len(a) == len(b) > 0
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert xb.dtype == np.float32
        np.testing.assert_array_equal(xb, xa)
        np.testing.assert_array_equal(yb["label"], ya["label"])


@pytest.mark.parametrize("kind", ["tabular", "image"])
def test_streamed_training_matches_in_memory_training(tmp_path: Path, kind: str) -> None:
    from ftstudio.engine.training import train
    from tests.helpers.eval_runs import _spec as eval_spec

    if kind == "tabular":
        data = tabular_spec_data(write_tabular_csv(tmp_path / "t.csv", n=240), seed=5)
    else:  # a file backbone on a folder of 60 images, decoded per batch when streamed
        data = eval_spec("image", tmp_path)
    data["training"]["epochs"] = 2
    runs = {}
    for mode in ("off", "on"):
        runs[mode] = (train(streamed_spec(data, mode), out_dir=tmp_path / mode),
                      tmp_path / mode)
    (mem, mem_dir), (streamed, streamed_dir) = runs["off"], runs["on"]
    assert json.loads((streamed_dir / "splits.json").read_text()) == \
        json.loads((mem_dir / "splits.json").read_text())
    own = {k: v for k, v in mem.metrics.items() if not k.startswith("baseline.")}
    assert streamed.metrics.keys() == own.keys()
    np.testing.assert_allclose([streamed.metrics[k] for k in own], list(own.values()),
                               rtol=1e-4, atol=1e-5)
    for row_a, row_b in zip(mem.history, streamed.history, strict=True):
        np.testing.assert_allclose([row_b[k] for k in row_a], list(row_a.values()), rtol=1e-4)
    assert (streamed_dir / "predictions.csv").read_text() == \
        (mem_dir / "predictions.csv").read_text()


def test_rows_sorted_by_label_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming_module, "SHUFFLE_WINDOW_ROWS", 10)
    path = tmp_path / "s.csv"
    for labels, warned in ((["a"] * 30 + ["b"] * 30, True), (["a", "b"] * 30, False)):
        path.write_text("f0,f1,f2,f3,label\n" + "".join(f"{i},1,2,3,{lab}\n"
                                                        for i, lab in enumerate(labels)))
        data = load_data(streamed_spec(tabular_spec_data(path)), stream=True)
        assert any("look sorted by 'label' (1 label changes" in w
                   for w in data.warnings) is warned
