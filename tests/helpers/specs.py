"""Tiny data files and specs for tests, built the same way everywhere (no Keras import).

Data writers return the path they wrote. Spec builders return plain dicts (what a spec file
holds), so a test can still patch a key before parsing it; :func:`write_json` turns one into a
spec file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "image_spec_data", "pretrain_spec_data", "tabular_spec_data", "text_spec_data",
    "write_image_folder", "write_json", "write_numeric_csv", "write_tabular_csv",
]


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` (a spec file, a project file...)."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_tabular_csv(path: Path, n: int = 240, seed: int = 0, features: int = 4) -> Path:
    """A labelled numeric CSV: columns ``f0..f{features-1}``, ``label`` and ``target``.

    ``label`` is ``high`` / ``mid`` / ``low`` from the score ``f0 + 0.5 * f1`` (thresholds
    +-0.3, so three classes a small net learns well); ``target`` is ``2 * score + 1``
    (regression).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    score = x[:, 0] + 0.5 * x[:, 1]
    label = np.where(score > 0.3, "high", np.where(score < -0.3, "low", "mid"))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"f{i}" for i in range(features)] + ["label", "target"])
        for row, lab, s in zip(x, label, score, strict=True):
            w.writerow([f"{v:.5f}" for v in row] + [lab, f"{2 * s + 1:.5f}"])
    return path


def write_numeric_csv(path: Path, rows: int = 30, columns: Sequence[str] = ("x", "y", "z"),
                      seed: int = 0) -> Path:
    """An unlabelled numeric CSV of standard-normal values (3 decimals), for pretraining."""
    values = np.random.default_rng(seed).normal(size=(rows, len(columns)))
    lines = [",".join(columns)] + [",".join(f"{v:.3f}" for v in r) for r in values]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_image_folder(folder: Path, classes: Sequence[tuple[str, tuple[int, int, int]]] = (
        ("red", (220, 40, 40)), ("blue", (40, 40, 220))), per_class: int = 12,
        size: int = 16, seed: int = 0) -> Path:
    """One sub-folder of PNGs per class: dark noise with a centred square of the class colour."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, color in classes:
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
            pixels[size // 4:3 * size // 4, size // 4:3 * size // 4] = color
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    return folder


def tabular_spec_data(csv_path: Path, name: str = "tiny", features: int = 4,
                      **training: Any) -> dict[str, Any]:
    """A spec for :func:`write_tabular_csv` data: no backbone, one dense layer of 8 units.

    ``training`` overrides the training section (3 epochs of batch 16, Adam at 0.01).
    """
    return {
        "name": name,
        "data": {"path": str(csv_path), "feature_columns": [f"f{i}" for i in range(features)],
                 "label_column": "label"},
        "backbone": {"source": "none"},
        "head": {"layers": [{"type": "dense", "units": 8}]},
        "training": {"epochs": 3, "batch_size": 16, "optimizer": "adam",
                     "learning_rate": 0.01, **training},
    }


def text_spec_data(csv_path: Path | str, text: str = "text", label: str = "label",
                   **data: Any) -> dict[str, Any]:
    """A text-classification spec on ``csv_path`` (other sections default)."""
    return {"data": {"path": str(csv_path), "text_column": text, "label_column": label,
                     **data}}


def image_spec_data(folder: Path | str, label: str = "label") -> dict[str, Any]:
    """An image-classification spec on a folder of class sub-folders (other sections default)."""
    return {"data": {"image_dir": str(folder), "label_column": label}}


def pretrain_spec_data(csv_path: Path | str, **settings: Any) -> dict[str, Any]:
    """A tiny dense-autoencoder pretraining spec (2 epochs, 4 -> 2 units) on a numeric CSV."""
    return {"name": "pretrain", "data": {"path": str(csv_path)}, "encoder_units": [4],
            "latent_dim": 2, "epochs": 2, "batch_size": 8, **settings}
