"""A keras-hub-style serialization harness for custom Keras objects.

``run_serialization_test(obj, inputs)`` checks, for a layer, a model or any registered Keras
object (a learning-rate schedule, ...):

1. ``get_config`` -> ``from_config`` gives the same config (and the same attributes);
2. ``keras.saving.serialize_keras_object`` -> JSON -> ``deserialize_keras_object`` gives the
   same class and config (so the object is registered under a name that resolves);
3. with example ``inputs`` (layers and models): a ``.keras`` save and a load in safe mode give
   the same class, the same config and the same outputs.

Pass a fresh, not yet called layer: its attributes are compared with those of the revived one
before anything builds it (as keras-hub's ``TestCase.run_serialization_test`` does).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

__all__ = ["run_serialization_test"]


def run_serialization_test(obj: Any, inputs: Any = None, *, rtol: float = 1e-5,
                           atol: float = 1e-5) -> keras.Model | None:
    """Check the config round trips of ``obj`` and, given ``inputs``, a ``.keras`` round trip.

    Args:
        obj: a fresh custom layer, a model, or another serializable Keras object.
        inputs: example input (an array, or a list of arrays for a layer called on a list);
            a layer is wrapped in a functional model with one ``keras.Input`` per array.
        rtol: relative tolerance of the output comparison.
        atol: absolute tolerance of the output comparison.

    Returns:
        The model loaded back from the ``.keras`` file (None without ``inputs``).
    """
    _check_config_round_trip(obj)
    _check_keras_serialization(obj)
    if inputs is None:
        return None
    model = obj if isinstance(obj, keras.Model) else _wrap_layer(obj, inputs)
    expected = model.predict(inputs, verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    _assert_outputs_close(loaded.predict(inputs, verbose=0), expected, rtol, atol)
    revived = loaded if isinstance(obj, keras.Model) else loaded.layers[-1]  # after the inputs
    assert type(revived) is type(obj), (type(revived), type(obj))
    assert _config_json(revived) == _config_json(obj)
    return loaded


def _config_json(obj: Any) -> str:
    return json.dumps(obj.get_config(), sort_keys=True, indent=2, default=str)


def _public_attributes(obj: Any) -> set[str]:
    return set(dir(obj)) - {"__annotations__"}


def _check_config_round_trip(obj: Any) -> None:
    revived = type(obj).from_config(obj.get_config())
    assert _config_json(revived) == _config_json(obj)
    if not isinstance(obj, keras.Model):
        assert _public_attributes(revived) == _public_attributes(obj)


def _check_keras_serialization(obj: Any) -> None:
    serialized = json.dumps(keras.saving.serialize_keras_object(obj), sort_keys=True)
    revived = keras.saving.deserialize_keras_object(json.loads(serialized))
    assert type(revived) is type(obj), (type(revived), type(obj))
    assert _config_json(revived) == _config_json(obj)


def _wrap_layer(layer: keras.layers.Layer, inputs: Any) -> keras.Model:
    """A functional model that calls ``layer`` on one ``keras.Input`` per example array."""
    arrays = list(inputs) if isinstance(inputs, Sequence) else [inputs]
    symbolic = [keras.Input(np.shape(a)[1:], dtype=str(np.asarray(a).dtype)) for a in arrays]
    outputs = layer(symbolic if isinstance(inputs, Sequence) else symbolic[0])
    return keras.Model(symbolic, outputs)


def _assert_outputs_close(actual: Any, expected: Any, rtol: float, atol: float) -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            np.testing.assert_allclose(actual[key], expected[key], rtol=rtol, atol=atol)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for got, want in zip(actual, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
