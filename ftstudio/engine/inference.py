"""Using trained models: evaluation on held-out splits, re-evaluating a run, predicting.

A run folder is self-contained: ``model.keras`` (+ ``preprocessor/`` for text) is all that
:func:`predict` needs; :func:`evaluate_run` also re-reads the data named in ``spec.json``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.evaluation import (
    class_probabilities,
    classification_report,
    flat_metrics,
    regression_report,
)
from ftstudio.engine.runs import RunFolder
from ftstudio.errors import DataError, RunError
from ftstudio.spec import ExperimentSpec


def _register_custom_objects() -> None:
    """Import the modules whose classes ``model.keras`` may name (safe_mode stays on)."""
    import keras_hub  # noqa: F401  (registers keras-hub layers)

    import ftstudio.engine.layers  # noqa: F401
    import ftstudio.engine.schedules  # noqa: F401


def save_text_preprocessor(backbone: Any, folder: Path) -> None:
    """Save a keras-hub preprocessor as a preset that loads without the backbone's weights."""
    import keras

    backbone.preprocessor.save_to_preset(str(folder))
    if backbone.model is not None:
        config = keras.saving.serialize_keras_object(backbone.model)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def load_text_preprocessor(folder: Path) -> Any:
    """Load a preprocessor saved by :func:`save_text_preprocessor`."""
    import keras_hub

    return keras_hub.models.TextClassifierPreprocessor.from_preset(str(folder))


def load_run_model(run: RunFolder) -> Any:
    """Load a run's ``model.keras`` (safe mode, no compile)."""
    import keras

    if not run.model_path.is_file():
        raise RunError(f"{run.path} has no model.keras; the run did not finish")
    _register_custom_objects()
    try:
        return keras.saving.load_model(str(run.model_path), compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any load failure is the file's fault here
        raise RunError(f"cannot load {run.model_path}: {exc}") from None


def _as_dict(outputs: Any, names: list[str]) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return {n: np.asarray(v) for n, v in zip(names, outputs, strict=False)}
    return {names[0]: np.asarray(outputs)}


def evaluate_model(model: Any, prepared: Any, backbone: Any, spec: ExperimentSpec,
                   images: dict[str, np.ndarray] | None = None
                   ) -> tuple[dict[str, float], dict[str, Any], str]:
    """Evaluate on the validation and test splits.

    Returns:
        ``(metrics, evaluation, predictions_csv)``: flat metrics for ``metrics.json``
        (``test.accuracy``, ``test.loss``, ``val.macro_f1``, …), the detailed reports for
        ``evaluation.json`` and the test split's per-example predictions as CSV text.
    """
    from ftstudio.engine.heads import loss_and_metrics
    from ftstudio.engine.training import make_dataset

    loss_fns, loss_weights, _ = loss_and_metrics(spec, prepared.output_sizes)
    images = images or {}
    names = [o.name for o in spec.head.outputs]
    metrics: dict[str, float] = {}
    evaluation: dict[str, Any] = {"splits": {}}
    predictions = ""
    t = spec.training
    for split in ("val", "test"):
        idx = prepared.splits[split]
        if len(idx) == 0:
            continue
        ds_x = make_dataset(prepared, backbone, split, t.batch_size, t.seed, False,
                            with_targets=False, images=images.get(split))
        outputs = _as_dict(model.predict(ds_x, verbose=0), names)
        reports: dict[str, dict[str, Any]] = {}
        for o in spec.head.outputs:
            col = prepared.output_columns[o.name]
            y = prepared.data.targets[col][idx]
            if o.task == "classification":
                reports[o.name] = classification_report(y, outputs[o.name],
                                                        prepared.data.classes[col])
            else:
                reports[o.name] = regression_report(y, outputs[o.name])
        metrics.update(flat_metrics(split, reports))
        # The loss from the same predictions (one pass over the split, not two); like
        # Keras' val_loss it is the weighted sum of the output losses, without the
        # regularisation penalties.
        metrics[f"{split}.loss"] = sum(
            loss_weights[o.name] * float(loss_fns[o.name](
                prepared.data.targets[prepared.output_columns[o.name]][idx],
                outputs[o.name]))
            for o in spec.head.outputs)
        evaluation["splits"][split] = {"n": int(len(idx)), "outputs": reports}
        if split == "test":
            predictions = _predictions_csv(prepared, spec, idx, outputs)
    evaluation["outputs"] = [{"name": o.name, "task": o.task,
                              "label_column": prepared.output_columns[o.name]}
                             for o in spec.head.outputs]
    return {k: round(float(v), 6) for k, v in metrics.items()}, evaluation, predictions


def _predictions_csv(prepared: Any, spec: ExperimentSpec, idx: np.ndarray,
                     outputs: dict[str, np.ndarray]) -> str:
    """Per-example test predictions (the base of error analysis)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    header = ["row_id"]
    for o in spec.head.outputs:
        header += [f"{o.name}.true", f"{o.name}.pred"] + (
            [f"{o.name}.confidence"] if o.task == "classification" else [])
    writer.writerow(header)
    cols: dict[str, tuple[list[Any], ...]] = {}
    for o in spec.head.outputs:
        col = prepared.output_columns[o.name]
        y = prepared.data.targets[col][idx]
        if o.task == "classification":
            classes = prepared.data.classes[col]
            probs = class_probabilities(outputs[o.name], len(classes))
            pred = probs.argmax(axis=1)
            cols[o.name] = ([classes[i] for i in y], [classes[i] for i in pred],
                            [f"{p:.4f}" for p in probs.max(axis=1)])
        else:
            cols[o.name] = ([f"{v:.6g}" for v in y],
                            [f"{v:.6g}" for v in np.asarray(outputs[o.name]).ravel()])
    for j, row_id in enumerate(prepared.data.row_ids[idx]):
        row: list[Any] = [int(row_id)]
        for o in spec.head.outputs:
            row += [c[j] for c in cols[o.name]]
        writer.writerow(row)
    return buf.getvalue()


def evaluate_run(run_dir: str | Path, reporter: Any = None) -> dict[str, float]:
    """Re-evaluate a finished run on its saved splits; rewrites metrics/evaluation files."""
    from ftstudio.engine.reporting import BaseReporter
    from ftstudio.engine.training import PreparedData, load_split_images, prepare_data

    reporter = reporter or BaseReporter()
    run = RunFolder.open(run_dir)
    spec = ExperimentSpec.from_dict(run.read_json("spec.json"))
    model = load_run_model(run)
    saved = run.read_json("splits.json")
    prepared: PreparedData = prepare_data(spec, reporter, saved.get("row_ids"))
    backbone = _inference_backbone(run, spec, model)
    images = {}
    if prepared.data.modality == "image":
        images = {s: load_split_images(prepared, backbone, s) for s in ("val", "test")}
    metrics, evaluation, predictions = evaluate_model(model, prepared, backbone, spec, images)
    run.write_json("metrics.json", metrics)
    run.write_json("evaluation.json", evaluation)
    from ftstudio.engine.runs import atomic_write_text

    atomic_write_text(run.file("predictions.csv"), predictions)
    return metrics


class _InferenceBackbone:
    """The few things the dataset code needs from a backbone, read off a saved run."""

    def __init__(self, preprocessor: Any, image_shape: tuple[int, int, int] | None) -> None:
        self.preprocessor = preprocessor
        self.image_shape = image_shape
        self.model = None


def _inference_backbone(run: RunFolder, spec: ExperimentSpec, model: Any) -> _InferenceBackbone:
    pre = None
    shape = None
    if spec.modality == "text":
        if not run.file("preprocessor").is_dir():
            raise RunError(f"{run.path} has no preprocessor/ folder; retrain the run")
        pre = load_text_preprocessor(run.file("preprocessor"))
    elif spec.modality == "image":
        inp = model.inputs[0].shape
        shape = (int(inp[1]), int(inp[2]), int(inp[3]))
    return _InferenceBackbone(pre, shape)


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

    run = RunFolder.open(run_dir)
    spec = ExperimentSpec.from_dict(run.read_json("spec.json"))
    labels = run.read_json("labels.json", {})
    model = load_run_model(run)
    backbone = _inference_backbone(run, spec, model)
    inputs, shown = _read_inputs(spec, texts, file, backbone)
    if spec.modality == "text":
        x = backbone.preprocessor(tf.constant(inputs))
    else:
        x = inputs
    names = [o.name for o in spec.head.outputs]
    outputs = _as_dict(model.predict(x, verbose=0), names)
    results: list[dict[str, Any]] = []
    for i, item in enumerate(shown):
        row: dict[str, Any] = {"input": item}
        for o in spec.head.outputs:
            out = outputs[o.name][i:i + 1]
            if o.task == "classification":
                classes = labels.get(o.name) or [str(k) for k in range(out.shape[-1])]
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
                 backbone: _InferenceBackbone) -> tuple[Any, list[str]]:
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
        from ftstudio.engine.data import load_images

        p = Path(file)
        if p.is_dir():
            paths = sorted(str(q) for q in p.iterdir() if q.suffix.lower() in
                           (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"))
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
    from ftstudio.engine.data import read_table

    frame, _ = read_table(file)
    cols = spec.data.feature_columns or []
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(f"{file} lacks feature column(s) {', '.join(missing)}; it has: "
                        f"{', '.join(map(str, frame.columns))}")
    try:
        x = frame[cols].to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{file}: feature columns must be numeric") from None
    return x, [f"row {i + 1}" for i in range(len(x))]


def _read_text_file(path: Path, column: str) -> list[str]:
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    if path.suffix.lower() == ".csv":
        from ftstudio.engine.data import read_table

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
