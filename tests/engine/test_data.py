"""Tests for ftstudio.engine.data: CSV / image-folder loading, bad input, splits, images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ftstudio.engine.data import (
    LoadedData,
    class_counts,
    load_data,
    load_images,
    positions_of,
    preview_table,
    read_table,
    split_indices,
)
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import DataError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import image_spec_data, text_spec_data

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "data"


# ------------------------------------------------------------------------------ helpers
def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def text_spec(path: Path, text: str = "text", label: str = "label", **data) -> ExperimentSpec:
    return ExperimentSpec.from_dict(text_spec_data(path, text, label, **data))


def table_spec(path: Path, features: list[str], outputs: list[dict] | None = None,
               label: str | None = "label") -> ExperimentSpec:
    d: dict = {"data": {"path": str(path), "feature_columns": features}}
    if label:
        d["data"]["label_column"] = label
    if outputs:
        d["head"] = {"outputs": outputs}
    return ExperimentSpec.from_dict(d)


def image_spec(folder: Path) -> ExperimentSpec:
    return ExperimentSpec.from_dict(image_spec_data(folder))


def reviews(n_per_class: int = 3, extra: str = "") -> str:
    rows = ["text,label"]
    for i in range(n_per_class):
        rows.append(f"good thing {i},pos")
        rows.append(f"bad thing {i},neg")
    return "\n".join(rows) + "\n" + extra


def png(path: Path, color=(255, 0, 0), size=(10, 8), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


# ------------------------------------------------------------------------------ happy paths
def test_text_csv_happy_path(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", 'text,label\n"Great, really",pos\nawful,neg\n'
                                    'nice,pos\n"so ""bad""",neg\n')
    rep = RecordingReporter()
    data = load_data(text_spec(csv), rep)
    assert isinstance(data, LoadedData)
    assert data.modality == "text"
    assert data.inputs.dtype == object
    assert list(data.inputs) == ["Great, really", "awful", "nice", 'so "bad"']
    assert data.classes == {"label": ["neg", "pos"]}
    assert data.targets["label"].dtype == np.int64
    assert data.targets["label"].tolist() == [1, 0, 1, 0]
    assert data.row_ids.dtype == np.int64 and data.row_ids.tolist() == [1, 2, 3, 4]
    assert data.feature_names == [] and data.warnings == []
    assert data.source == str(csv)
    assert len(rep.of("status")) == 1 and rep.of("warning") == []
    assert class_counts(data) == {"label": {"neg": 2, "pos": 2}}


def test_tabular_csv_with_regression_output(tmp_path: Path) -> None:
    csv = write(tmp_path / "t.csv", "a,b,c,label,price\n1,2.5,x,u,1.5\n3,4,y,v,2\n"
                                    "5,6e-1,z,u,3.25\n7,8,w,v,-1\n")
    data = load_data(table_spec(csv, ["b", "a"], [
        {"name": "kind", "label_column": "label"},
        {"name": "price", "label_column": "price", "task": "regression"}]))
    assert data.modality == "tabular"
    assert data.inputs.dtype == np.float32 and data.inputs.shape == (4, 2)
    assert data.inputs[:, 0].tolist() == pytest.approx([2.5, 4, 0.6, 8])
    assert data.feature_names == ["b", "a"]
    assert data.targets["price"].dtype == np.float32
    assert data.targets["price"].tolist() == pytest.approx([1.5, 2, 3.25, -1])
    assert "price" not in data.classes and data.classes["label"] == ["u", "v"]
    assert class_counts(data) == {"label": {"u": 2, "v": 2}}


def test_multitask_text_outputs_default_label_column(tmp_path: Path) -> None:
    csv = write(tmp_path / "m.csv", "text,sentiment,topic\n" + "".join(
        f"t{i},{'pos' if i % 2 else 'neg'},{['movie', 'food', 'tech'][i % 3]}\n"
        for i in range(12)))
    spec = ExperimentSpec.from_dict({
        "data": {"path": str(csv), "text_column": "text", "label_column": "sentiment"},
        "head": {"outputs": [{"name": "s"}, {"name": "t", "label_column": "topic"}]}})
    data = load_data(spec)
    assert list(data.targets) == ["sentiment", "topic"]
    assert data.classes == {"sentiment": ["neg", "pos"], "topic": ["food", "movie", "tech"]}
    assert data.targets["topic"][:3].tolist() == [1, 0, 2]


def test_numeric_class_labels_are_strings_sorted(tmp_path: Path) -> None:
    csv = write(tmp_path / "n.csv", "x,label\n1,10\n2,2\n3,10\n4,2\n5,1\n6,1\n")
    data = load_data(table_spec(csv, ["x"]))
    assert data.classes["label"] == ["1", "10", "2"]
    assert data.targets["label"].tolist() == [1, 2, 1, 2, 0, 0]


def test_image_folder_skips_and_lists_corrupt_files(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    for i in range(3):
        png(root / "cat" / f"c{i}.png")
        png(root / "dog" / f"d{i}.PNG", (0, 0, 255))
    png(root / "dog" / "sub" / "deep.jpg")
    (root / "cat" / "broken.png").write_bytes(b"this is not a png at all")
    (root / "cat" / ".hidden.png").write_bytes(b"junk")
    (root / ".git").mkdir()
    (root / "dog" / "notes.txt").write_text("hello")
    rep = RecordingReporter()
    data = load_data(image_spec(root), rep)
    assert data.modality == "image"
    assert data.classes == {"label": ["cat", "dog"]}
    assert len(data.inputs) == 7
    assert all(Path(p).is_absolute() and Path(p).exists() for p in data.inputs)
    assert not any("broken" in p or "hidden" in p for p in data.inputs)
    assert data.targets["label"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert data.row_ids.tolist() == list(range(7))
    bad = [w for w in data.warnings if "unreadable" in w]
    assert len(bad) == 1 and "cat/broken.png" in bad[0]
    assert any("notes" not in w and "not an image" in w for w in data.warnings)
    assert [args[0] for args in rep.of("warning")] == data.warnings
    assert len(rep.of("status")) == 1


def test_many_corrupt_images_are_listed_briefly(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    for cls in ("a", "b"):
        for i in range(2):
            png(root / cls / f"ok{i}.png")
    for i in range(13):
        (root / "a" / f"bad{i:02d}.jpg").write_bytes(b"\xff\xd8garbage")
    data = load_data(image_spec(root))
    (warning,) = [w for w in data.warnings if "unreadable" in w]
    assert "13 unreadable images" in warning and "and 3 more" in warning


def test_load_images_shape_dtype_and_modes(tmp_path: Path) -> None:
    p1 = png(tmp_path / "a.png", (10, 20, 30), size=(40, 20))
    p2 = png(tmp_path / "b.png", 128, mode="L")
    p3 = tmp_path / "c.png"
    pal = Image.new("P", (5, 5), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0])
    pal.info["transparency"] = 1
    pal.save(p3, transparency=1)
    rgb = load_images([str(p1), str(p2), str(p3)], (16, 24))
    assert rgb.shape == (3, 16, 24, 3) and rgb.dtype == np.uint8
    assert rgb[0, 5, 5].tolist() == [10, 20, 30] and rgb[1, 0, 0].tolist() == [128] * 3
    grey = load_images([str(p1)], (8, 8), channels=1)
    assert grey.shape == (1, 8, 8, 1) and grey.dtype == np.uint8
    assert load_images([], (4, 4)).shape == (0, 4, 4, 3)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="bad.png"):
        load_images([str(tmp_path / "bad.png")], (4, 4))


# ------------------------------------------------------------------------------ bad input
def test_missing_column_lists_columns_and_suggests(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", reviews())
    with pytest.raises(DataError, match="'lable'.*did you mean 'label'.*'text', 'label'"):
        load_data(text_spec(csv, label="lable"))
    with pytest.raises(DataError, match="'review'.*not in r.csv; its columns are: 'text'"):
        load_data(text_spec(csv, text="review"))
    with pytest.raises(DataError, match="did you mean 'text'"):
        load_data(text_spec(csv, text="Text"))


def test_encoding_fallbacks_warn(tmp_path: Path) -> None:
    cp = write(tmp_path / "cp.csv", reviews(extra="café crème €5,pos\n"), "cp1252")
    frame, warns = read_table(cp)
    assert "café crème €5" in frame["text"].tolist()
    assert len(warns) == 1 and "cp1252" in warns[0]
    data = load_data(text_spec(cp))
    assert any("cp1252" in w for w in data.warnings)
    # 0x81 is undefined in cp1252, so only latin-1 can read it
    lat = tmp_path / "lat.csv"
    lat.write_bytes(reviews().encode() + b"bad \x81 byte,neg\n")
    frame, warns = read_table(lat)
    assert "latin-1" in warns[0] and len(frame) == 7
    with pytest.raises(DataError, match="cannot be read as utf-8"):
        read_table(cp, encoding="utf-8")
    with pytest.raises(DataError, match="unknown encoding"):
        read_table(cp, encoding="klingon")
    frame, warns = read_table(cp, encoding="cp1252")
    assert warns == []


def test_utf8_bom_is_clean(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + reviews().encode())
    frame, warns = read_table(p)
    assert list(frame.columns) == ["text", "label"] and warns == []


def test_ragged_rows_skipped_with_file_line_numbers(tmp_path: Path) -> None:
    lines = [
        "text,label",                 # 1
        "ok one,pos",                 # 2
        '"multi',                     # 3  (a quoted field over two lines)
        'line",neg',                  # 4
        "",                           # 5  (blank, ignored)
        "too,many,fields",            # 6  ragged
        "fine,pos",                   # 7
        "lonely",                     # 8  ragged
        "fine again,neg",             # 9
        "a,neg", "b,pos", "c,neg", "d,pos", "e,neg",   # 10-14
    ]
    csv = write(tmp_path / "r.csv", "\n".join(lines) + "\n")
    frame, warns = read_table(csv)
    assert frame.index.tolist() == [2, 3, 7, 9, 10, 11, 12, 13, 14]
    assert frame.loc[3, "text"] == "multi\nline"
    assert len(warns) == 1 and "2 rows" in warns[0] and "lines 6, 8" in warns[0]
    data = load_data(text_spec(csv))
    assert data.row_ids.tolist() == [1, 2, 6, 8, 9, 10, 11, 12, 13]
    assert len(data.inputs) == 9


def test_crlf_line_numbers(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", "text,label\r\na,pos\r\nb,neg,extra\r\nc,neg\r\n"
                                    "d,pos\r\ne,neg\r\nf,pos\r\n")
    frame, warns = read_table(csv)
    assert "line 3" in warns[0] or "lines 3" in warns[0]
    assert frame.index.tolist() == [2, 4, 5, 6, 7]


def test_too_many_ragged_rows_suggest_delimiter(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", "text,label\na,b\nx,y,z\np,q,r\ns,t,u\nv,w\n")
    with pytest.raises(DataError, match="3 of 5 rows.*first at line 3.*delimiter"):
        read_table(csv)
    frame, warns = preview_table(csv)      # the preview shows it anyway
    assert len(frame) == 2 and "delimiter" in warns[0]


def test_unclosed_quote_is_an_error(tmp_path: Path) -> None:
    csv = write(tmp_path / "q.csv", reviews() + '"never closed,pos\nmore,neg\nrows,pos\n')
    with pytest.raises(DataError, match="line 8 .*never closed"):
        read_table(csv)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"text,label\n", b"text,label\n\n\n"])
def test_empty_files(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "e.csv"
    p.write_bytes(content)
    with pytest.raises(DataError, match="e.csv is empty"):
        read_table(p)
    with pytest.raises(DataError, match="is empty"):
        load_data(text_spec(p))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_data(text_spec(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)
    with pytest.raises(DataError, match="not found"):
        preview_table(tmp_path / "nope.csv")


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes(b"PK\x03\x04\x00\x00binary\x00stuff")
    with pytest.raises(DataError, match="binary"):
        read_table(p)


def test_empty_labels_and_texts_dropped_and_counted(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", reviews(extra="no label,\n  ,pos\nanother,  \n\"\",neg\n"))
    rep = RecordingReporter()
    data = load_data(text_spec(csv), rep)
    assert len(data.inputs) == 6
    label_w = [w for w in data.warnings if "empty 'label'" in w]
    text_w = [w for w in data.warnings if "empty text" in w]
    assert len(label_w) == 1 and "Dropped 2 rows" in label_w[0] and "lines 8, 10" in label_w[0]
    assert len(text_w) == 1 and "Dropped 2 rows" in text_w[0] and "lines 9, 11" in text_w[0]
    assert [a[0] for a in rep.of("warning")] == data.warnings


def test_non_numeric_feature_names_column_and_line(tmp_path: Path) -> None:
    csv = write(tmp_path / "t.csv", "a,b,label\n1,2,x\n3,4,y\n5,oops,x\n7,8,y\n")
    with pytest.raises(DataError, match="'b'.*'oops' at line 4"):
        load_data(table_spec(csv, ["a", "b"]))


def test_missing_feature_values_dropped(tmp_path: Path) -> None:
    csv = write(tmp_path / "t.csv", "a,b,label\n1,2,x\n3,,y\n5,6,x\n7,8,y\n9,NA,x\n11,12,y\n")
    data = load_data(table_spec(csv, ["a", "b"]))
    assert data.inputs[:, 0].tolist() == [1, 5, 7, 11]
    assert any("empty value in 'b'" in w and "lines 3, 6" in w for w in data.warnings)


def test_regression_label_must_be_numeric(tmp_path: Path) -> None:
    csv = write(tmp_path / "t.csv", "a,price\n1,2\n3,cheap\n5,6\n")
    spec = table_spec(csv, ["a"], [{"name": "p", "label_column": "price",
                                    "task": "regression"}], label=None)
    with pytest.raises(DataError, match="'price'.*'cheap'"):
        load_data(spec)


def test_label_cannot_be_a_feature(tmp_path: Path) -> None:
    csv = write(tmp_path / "t.csv", "a,label\n1,x\n2,y\n3,x\n4,y\n")
    with pytest.raises(DataError, match="both an input and a label"):
        load_data(table_spec(csv, ["a", "label"]))


def test_one_class_only(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", "text,label\na,pos\nb,pos\nc,pos\n")
    with pytest.raises(DataError, match="only one class, 'pos'"):
        load_data(text_spec(csv))


def test_class_with_fewer_than_two_rows(tmp_path: Path) -> None:
    csv = write(tmp_path / "r.csv", reviews(extra="rare,odd\nother,weird\n"))
    with pytest.raises(DataError, match=r"'odd' \(1 row\), 'weird' \(1 row\).*add examples"):
        load_data(text_spec(csv))


def test_imbalance_warning(tmp_path: Path) -> None:
    rows = "".join(f"good {i},pos\n" for i in range(23)) + "bad,neg\nworse,neg\n"
    csv = write(tmp_path / "r.csv", "text,label\n" + rows)
    data = load_data(text_spec(csv))
    assert any("imbalanced" in w and "'pos' has 23" in w for w in data.warnings)


def test_image_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_data(image_spec(tmp_path / "nope"))
    f = tmp_path / "file.png"
    png(f)
    with pytest.raises(DataError, match="not a folder"):
        load_data(image_spec(f))
    empty = tmp_path / "empty"
    empty.mkdir()
    png(empty / "loose.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        load_data(image_spec(empty))
    one = tmp_path / "one"
    png(one / "cat" / "a.png")
    png(one / "cat" / "b.png")
    with pytest.raises(DataError, match="only one class folder, 'cat'"):
        load_data(image_spec(one))
    png(one / "dog" / "a.png")
    (one / "owl").mkdir()
    with pytest.raises(DataError, match=r"'dog' \(1 image\), 'owl' \(0 images\).*folders"):
        load_data(image_spec(one))


def test_delimiter_sniffing_and_override(tmp_path: Path) -> None:
    semi = write(tmp_path / "s.csv", "text;label\nhello, world;pos\nbye, all;neg\n")
    frame, _ = read_table(semi)
    assert list(frame.columns) == ["text", "label"] and frame["text"][2] == "hello, world"
    tab = write(tmp_path / "t.tsv", "a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
    assert list(read_table(tab)[0].columns) == ["a", "b", "label"]
    with pytest.raises(DataError, match="delimiter is probably not ','"):
        read_table(semi, delimiter=",")
    plain = write(tmp_path / "p.csv", "text;label\nhello;pos\nbye;neg\n")
    assert read_table(plain, delimiter=",")[0].columns.tolist() == ["text;label"]
    data = load_data(text_spec(write(tmp_path / "r.csv", reviews().replace(",", ";")),
                               delimiter=";"))
    assert len(data.inputs) == 6


def test_numeric_inference_and_preview(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i / 2},t{i}\n" for i in range(500))
    csv = write(tmp_path / "p.csv", "i,f,s\n" + rows)
    frame, warns = preview_table(csv, max_rows=10)
    assert len(frame) == 10 and warns == []
    assert frame["i"].dtype == np.int64 and frame["f"].dtype == np.float64
    assert frame.index[0] == 2


def test_no_tensorflow_import() -> None:
    code = ("import sys, ftstudio.engine.data; "
            "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------ splits
def test_split_sizes_sorted_disjoint_and_deterministic() -> None:
    y = np.repeat([0, 1, 2], [50, 30, 20])
    a = split_indices(100, y, [0.8, 0.1, 0.1], seed=3)
    b = split_indices(100, y, [0.8, 0.1, 0.1], seed=3)
    c = split_indices(100, y, [0.8, 0.1, 0.1], seed=4)
    assert {k: len(v) for k, v in a.items()} == {"train": 80, "val": 10, "test": 10}
    for part in a.values():
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
    assert np.array_equal(np.sort(np.concatenate(list(a.values()))), np.arange(100))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert np.bincount(y[a["test"]], minlength=3).tolist() == [5, 3, 2]   # stratified
    assert np.bincount(y[a["val"]], minlength=3).tolist() == [5, 3, 2]


def test_positions_of_saved_row_ids() -> None:
    ids = np.array([1, 2, 5, 7, 9], dtype=np.int64)
    np.testing.assert_array_equal(positions_of(ids, [9, 1, 3, 7]), [0, 3, 4])
    np.testing.assert_array_equal(positions_of(np.array([3, 1, 2]), [1, 3]), [0, 1])
    assert positions_of(ids, []).size == 0 and positions_of(ids[:0], [1]).size == 0
    assert positions_of(ids, [4]).dtype == np.int64


def test_split_zero_fractions_and_tiny_data() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    parts = split_indices(6, y, [1.0, 0.0, 0.0], seed=0)
    assert parts["train"].tolist() == list(range(6))
    assert parts["val"].shape == (0,) and parts["test"].shape == (0,)
    assert parts["val"].dtype == np.int64
    parts = split_indices(6, y, [0.8, 0.0, 0.2], seed=0)      # too small to stratify
    assert len(parts["test"]) == 1 and len(parts["val"]) == 0
    parts = split_indices(2, None, [0.5, 0.25, 0.25], seed=0)
    assert len(parts["train"]) >= 1
    assert sum(len(v) for v in parts.values()) == 2
    assert all(len(v) == 0 for v in split_indices(0, None, [0.8, 0.1, 0.1], 1).values())


@settings(max_examples=60, deadline=None, database=None)
@given(n=st.integers(0, 60), k=st.integers(1, 4), seed=st.integers(0, 2**31),
       val=st.sampled_from([0.0, 0.1, 0.2, 0.3]), test=st.sampled_from([0.0, 0.1, 0.25]),
       stratify=st.booleans())
def test_split_property_every_index_once(n: int, k: int, seed: int, val: float, test: float,
                                         stratify: bool) -> None:
    y = np.arange(n) % k if stratify else None
    fr = [1 - val - test, val, test]
    parts = split_indices(n, y, fr, seed)
    assert set(parts) == {"train", "val", "test"}
    allidx = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert sorted(allidx.tolist()) == list(range(n))
    if n:
        assert len(parts["train"]) >= 1
    if val == 0:
        assert len(parts["val"]) == 0
    if test == 0:
        assert len(parts["test"]) == 0
    again = split_indices(n, y, fr, seed)
    assert all(np.array_equal(parts[p], again[p]) for p in parts)


# ------------------------------------------------------------------------------ example data
def test_example_reviews_csv() -> None:
    spec = text_spec(EXAMPLES / "reviews.csv")
    data = load_data(spec)
    assert 700 <= len(data.inputs) <= 900 and data.warnings == []
    counts = class_counts(data)["label"]
    assert set(counts) == {"negative", "positive"}
    assert abs(counts["positive"] - counts["negative"]) < 0.1 * len(data.inputs)
    assert len(set(data.inputs.tolist())) == len(data.inputs)
    demo = REPO / "resources" / "demo" / "reviews.csv"
    assert demo.read_bytes() == (EXAMPLES / "reviews.csv").read_bytes()


def test_example_multitask_wine_and_shapes() -> None:
    spec = ExperimentSpec.from_dict({
        "data": {"path": str(EXAMPLES / "reviews_multitask.csv"), "text_column": "text",
                 "label_column": "sentiment"},
        "head": {"outputs": [{"name": "sentiment"},
                             {"name": "topic", "label_column": "topic"}]}})
    data = load_data(spec)
    assert data.classes["topic"] == ["movie", "product", "restaurant"]
    assert len(data.inputs) >= 350 and data.warnings == []
    frame, _ = read_table(EXAMPLES / "wine.csv")
    features = [c for c in frame.columns if c != "label"]
    assert len(features) == 13
    wine = load_data(table_spec(EXAMPLES / "wine.csv", features))
    assert wine.inputs.shape == (178, 13)
    assert wine.classes["label"] == ["class_0", "class_1", "class_2"]
    shapes = load_data(image_spec(EXAMPLES / "shapes"))
    assert len(shapes.classes["label"]) == 3 and shapes.warnings == []
    assert load_images(shapes.inputs[:2].tolist(), (64, 64)).shape == (2, 64, 64, 3)
