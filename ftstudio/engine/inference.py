"""Using trained models: re-evaluating a run, predicting.

A run folder is self-contained (see :mod:`ftstudio.engine.artifacts`): ``model.keras``
(+ ``preprocessor/`` for text) is all that :func:`predict` needs; :func:`evaluate_run` also
re-reads the data named in ``spec.json`` and splits it as the run did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.artifacts import (
    RunBackbone,
    class_names,
    load_run,
    read_splits,
    save_labels,
)
from ftstudio.engine.data import IMAGE_EXTENSIONS, load_images, read_table
from ftstudio.engine.datasets import load_images_of_splits, prepare_data
from ftstudio.engine.evaluation import (
    class_probabilities,
    evaluate_model_chunks,
    outputs_by_name,
    write_predictions,
)
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import DataError
from ftstudio.spec import ExperimentSpec


def evaluate_run(run_dir: str | Path, reporter: Reporter | None = None) -> dict[str, float]:
    """Re-evaluate a finished run on its saved splits; rewrites metrics/evaluation files.

    Args:
        run_dir: the run folder (or its ``spec.json``).
        reporter: progress sink; optional.

    Returns:
        The flat metrics written to ``metrics.json``.
    """
    reporter = reporter or BaseReporter()
    loaded = load_run(run_dir)
    run, spec = loaded.run, loaded.spec
    run.lock("evaluation")  # one writer: not while the run trains, nor two evaluations
    try:
        prepared = prepare_data(spec, reporter, read_splits(run))
        images = load_images_of_splits(prepared, loaded.backbone, ("val", "test"))
        metrics, evaluation, predictions = evaluate_model_chunks(loaded.model, prepared,
                                                                 loaded.backbone, spec, images)
        # What is not the model's own score (the baseline's) does not change: keep it.
        kept = {k: v for k, v in run.metrics().items()
                if not k.startswith(("test.", "val.")) and k not in metrics}
        metrics = {**metrics, **kept}
        run.write_json("metrics.json", metrics)
        run.write_json("evaluation.json", evaluation)
        write_predictions(run.file("predictions.csv"), predictions)
        save_labels(run, {o: prepared.data.classes.get(c, [])
                          for o, c in prepared.output_columns.items()})
    finally:
        run.unlock()
    return metrics


def predict(run_dir: str | Path, texts: list[str] | None = None,
            file: str | Path | None = None) -> list[dict[str, Any]]:
    """Predict with a run's model.

    Args:
        run_dir: the run folder.
        texts: texts to classify (text models).
        file: a text file (one example per line) or CSV with the spec's input column(s)
            for text/tabular models; an image file or a folder of images for image models.

    Returns:
        One dict per example: ``{"input": …, "<output>": {"label": …, "confidence": …,
        "probabilities": {class: p}}}`` or ``{"<output>": {"value": …}}`` for regression.
    """
    import tensorflow as tf

    loaded = load_run(run_dir)
    spec, backbone = loaded.spec, loaded.backbone
    inputs, shown = _read_inputs(spec, texts, file, backbone)
    if spec.modality == "text":
        x = backbone.preprocessor(tf.constant(inputs))
    else:
        x = inputs
    names = [o.name for o in spec.head.outputs]
    outputs = outputs_by_name(loaded.model.predict(x, verbose=0), names)
    results: list[dict[str, Any]] = []
    for i, item in enumerate(shown):
        row: dict[str, Any] = {"input": item}
        for o in spec.head.outputs:
            out = outputs[o.name][i:i + 1]
            if o.task == "classification":
                width = int(out.shape[-1])
                classes = class_names(loaded, o.name, 2 if width == 1 else width)
                probs = class_probabilities(out, len(classes))[0]
                k = int(probs.argmax())
                row[o.name] = {"label": classes[k], "confidence": float(probs[k]),
                               "probabilities": {c: float(p) for c, p in zip(classes, probs,
                                                                             strict=False)}}
            else:
                row[o.name] = {"value": float(np.asarray(out).ravel()[0])}
        results.append(row)
    return results


def _read_inputs(spec: ExperimentSpec, texts: list[str] | None, file: str | Path | None,
                 backbone: RunBackbone) -> tuple[Any, list[str]]:
    if spec.modality == "text":
        items = list(texts or [])
        if file:
            items += _read_text_file(Path(file), spec.data.text_column or "text")
        if not items:
            raise DataError("nothing to predict: give --text or --file")
        return items, items
    if spec.modality == "image":
        if not file:
            raise DataError("image models predict from --file (an image or a folder of images)")
        p = Path(file)
        if p.is_dir():
            paths = sorted(str(q) for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.is_file():
            paths = [str(p)]
        else:
            raise DataError(f"file not found: {p}")
        if not paths:
            raise DataError(f"no images in {p}")
        assert backbone.image_shape is not None
        h, w, c = backbone.image_shape
        return load_images(paths, (h, w), channels=c).astype(np.float32), paths
    if not file:
        raise DataError("tabular models predict from --file (a CSV with the feature columns)")
    frame, _ = read_table(file)
    cols = spec.data.feature_columns or []
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(f"{file} lacks feature column(s) {', '.join(missing)}; it has: "
                        f"{', '.join(map(str, frame.columns))}")
    try:
        x = frame[cols].to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{file}: feature columns must be numeric") from exc
    return x, [f"row {i + 1}" for i in range(len(x))]


def _read_text_file(path: Path, column: str) -> list[str]:
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    if path.suffix.lower() == ".csv":
        frame, _ = read_table(path)
        if column not in frame.columns:
            raise DataError(f"{path} has no column '{column}'; it has: "
                            f"{', '.join(map(str, frame.columns))}")
        return [str(t) for t in frame[column].dropna()]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    return [line.strip() for line in text.splitlines() if line.strip()]
