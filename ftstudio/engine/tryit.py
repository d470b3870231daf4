"""Try it: one example in, the run's prediction out (top classes with probabilities, or a value).

The window keeps a run loaded (:func:`open_run`) and asks :func:`try_example` for each text
typed, image dropped or feature row filled in. The example goes through exactly the run's
preprocessing: text through the run's saved tokenizer, images decoded and resized like the
training images (the pixel scaling is inside the model), feature rows as numbers (the
normalisation is inside the model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.artifacts import LoadedRun, load_run
from ftstudio.engine.data import load_images
from ftstudio.engine.evaluation import class_probabilities, outputs_by_name
from ftstudio.errors import DataError, RunError

__all__ = ["model_input", "open_run", "try_example"]


def open_run(run_dir: str | Path) -> LoadedRun:
    """Load a finished run's model (and tokenizer) once, for several :func:`try_example` calls.

    Raises:
        RunError: the folder is not a run, or has no model (it did not finish).
    """
    return load_run(run_dir)


def try_example(loaded: LoadedRun, *, text: str | None = None, image: str | Path | None = None,
                features: dict[str, float] | None = None, top_k: int = 5) -> dict[str, Any]:
    """Predict one example with a loaded run.

    Args:
        loaded: from :func:`open_run`.
        text: the text (text runs).
        image: an image file (image runs).
        features: feature name -> value for every feature column (tabular runs).
        top_k: how many classes to return per classification output.

    Returns:
        ``{output: {"task": "classification", "top": [(class, p), …]}}`` (most probable
        first) or ``{output: {"task": "regression", "value": v}}``.

    Raises:
        DataError: the example does not fit the run (no text, an image that cannot be
            decoded, a missing or non-numeric feature).
    """
    spec = loaded.spec
    x = model_input(loaded, text, image, features)
    names = [o.name for o in spec.head.outputs]
    outputs = outputs_by_name(loaded.model.predict(x, verbose=0), names)
    result: dict[str, Any] = {}
    for o in spec.head.outputs:
        raw = outputs[o.name][:1]
        if o.task == "classification":
            classes = loaded.labels.get(o.name) or [str(k) for k in range(raw.shape[-1])]
            probs = class_probabilities(raw, len(classes))[0]
            order = np.argsort(-probs, kind="stable")[:top_k]
            result[o.name] = {"task": "classification",
                              "top": [(classes[i], float(probs[i])) for i in order]}
        else:
            result[o.name] = {"task": "regression",
                              "value": float(np.asarray(raw, dtype=np.float64).ravel()[0])}
    return result


def model_input(loaded: LoadedRun, text: str | None, image: str | Path | None,
                 features: dict[str, float] | None) -> Any:
    """The one example as the model takes it, preprocessed as in training."""
    spec = loaded.spec
    if spec.modality == "text":
        import tensorflow as tf

        if not text or not text.strip():
            raise DataError("type or paste a text to classify")
        return loaded.backbone.preprocessor(tf.constant([text]))
    if spec.modality == "image":
        if not image:
            raise DataError("choose or drop an image file")
        path = Path(image)
        if not path.is_file():
            raise DataError(f"image file not found: {path}")
        shape = loaded.backbone.image_shape
        if shape is None:
            raise RunError(f"{loaded.run.path} does not say its image size; retrain the run")
        h, w, c = shape
        return load_images([str(path)], (h, w), channels=c).astype(np.float32)
    columns = list(spec.data.feature_columns or [])
    given = features or {}
    missing = [c for c in columns if c not in given]
    if missing:
        raise DataError(f"give a value for every feature; missing: {', '.join(missing)}")
    try:
        row = [float(given[c]) for c in columns]
    except (TypeError, ValueError) as exc:
        raise DataError("every feature must be a number") from exc
    return np.asarray([row], dtype=np.float32)
