"""Tiny finished runs (text, image, tabular, regression) for the evaluation tests, trained once.

Training takes seconds per run; the evaluation, baseline, comparison, report, CLI and window
tests all read the same run folders, so each is trained once per test process (on first use)
into one temporary folder, removed when the process ends. Tests must not change these folders:
copy one first (:func:`copy_run`).
"""

from __future__ import annotations

import atexit
import csv
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.helpers.specs import tabular_spec_data, write_image_folder, write_tabular_csv

__all__ = ["KINDS", "copy_run", "green_only_backbone", "trained_run", "write_text_csv"]

KINDS = ("text", "image", "tabular", "regression")

_root: Path | None = None
_runs: dict[str, Path] = {}


def _folder() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="ftstudio-eval-runs-"))
        atexit.register(shutil.rmtree, _root, True)
    return _root


def write_text_csv(path: Path, rows: int = 60) -> Path:
    """Two classes of short texts from the tiny BERT's words: ``pos`` holds "good", ``neg`` "bad".

    Two blank lines come before the header, so the header is line 3 of the file.
    """
    from tests.helpers.models import BERT_VOCAB

    rng = np.random.default_rng(0)
    words = BERT_VOCAB[5:]
    with path.open("w", newline="") as fh:
        fh.write("\n\n")
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = "pos" if i % 2 else "neg"
            writer.writerow([" ".join([*rng.choice(words, 4), "good" if label == "pos"
                                       else "bad"]), label])
    return path


def green_only_backbone(path: Path) -> Path:
    """A "pretrained" image backbone that sees only the green channel (a 1x1 convolution).

    On red-vs-blue squares of the same green its frozen features carry no class information
    (a linear probe is at chance), while fine-tuning the convolution learns the task at once.
    """
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), name="pixels")
    conv = keras.layers.Conv2D(4, 1, name="mix")
    out = conv(inp)
    model = keras.Model(inp, out, name="green_only")
    kernel, bias = conv.get_weights()
    kernel[:, :, 0, :] = 0.0
    kernel[:, :, 2, :] = 0.0
    conv.set_weights([kernel, bias])
    model.save(path)
    return path


def _spec(kind: str, root: Path) -> dict[str, Any]:
    from tests.helpers.models import tiny_bert_preset

    if kind == "text":
        return {"name": "text", "data": {"path": str(write_text_csv(root / "text.csv")),
                                         "text_column": "text", "label_column": "label"},
                "backbone": {"source": "keras_hub", "sequence_length": 8,
                             "path": str(tiny_bert_preset(root / "bert"))},
                "training": {"epochs": 2, "batch_size": 8, "optimizer": "adam",
                             "learning_rate": 0.01}}
    if kind == "image":
        folder = write_image_folder(root / "images", per_class=30)
        return {"name": "image", "data": {"image_dir": str(folder), "label_column": "label",
                                          "split": [0.6, 0.2, 0.2]},
                "backbone": {"source": "file", "preprocessing": "scale_0_1",
                             "path": str(green_only_backbone(root / "green.keras"))},
                "training": {"epochs": 8, "batch_size": 8, "optimizer": "adam",
                             "learning_rate": 0.05}}
    data = tabular_spec_data(write_tabular_csv(root / f"{kind}.csv"), name=kind, seed=3)
    if kind == "regression":
        data["head"]["outputs"] = [{"name": "target", "label_column": "target",
                                    "task": "regression"}]
    return data


def trained_run(kind: str) -> Path:
    """The finished run folder of ``kind`` (one of :data:`KINDS`), trained on first use."""
    if kind not in _runs:
        from ftstudio.engine.training import train
        from ftstudio.spec import ExperimentSpec

        root = _folder() / kind
        root.mkdir(parents=True, exist_ok=True)
        result = train(ExperimentSpec.from_dict(_spec(kind, root)), out_dir=root / "run")
        _runs[kind] = result.run_dir
    return _runs[kind]


def copy_run(kind: str, target: Path) -> Path:
    """A copy of :func:`trained_run` that a test may change."""
    shutil.copytree(trained_run(kind), target)
    return target
