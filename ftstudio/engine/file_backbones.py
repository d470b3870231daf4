"""Backbones from ``.keras`` / ``.h5`` model files: one nested sub-model and/or a cut.

Files are loaded with :func:`~ftstudio.engine.model_files.load_model_safely`.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import keras

from ftstudio.engine.backbone_base import Backbone, Modality, group_blocks, image_shape
from ftstudio.engine.model_files import (
    MODEL_FILE_SUFFIXES,
    first_line,
    load_model_safely,
    load_weights_strict,
    pixel_preprocessing,
)
from ftstudio.engine.reporting import Reporter
from ftstudio.errors import BackboneError, SpecError
from ftstudio.formatting import format_params
from ftstudio.spec import BackboneSpec

__all__ = ["cut_model", "find_submodel", "load_file_backbone"]


def _open_model_file(spec: BackboneSpec, modality: Modality, rep: Reporter) -> keras.Model:
    path = Path(spec.path or "").expanduser()
    if not path.is_file():
        raise BackboneError(f"model file not found: {path}")
    if path.suffix.lower() not in MODEL_FILE_SUFFIXES:
        raise BackboneError(f"{path.name} is not a Keras model file: use a .keras, .h5 or "
                            f".hdf5 file")
    if modality == "text":
        raise BackboneError(f"{path.name} is a model file; text data needs a keras-hub or "
                            f"Hugging Face folder (with its tokenizer), such as minilm")
    rep.status(f"Loading backbone {path.name}…")
    model = load_model_safely(path)
    if spec.weights:
        if spec.weights.lower() == "imagenet":
            rep.warning("backbone.weights 'imagenet' is ignored for a model file: it brings "
                        "its own weights")
        else:
            weights_path = Path(spec.weights).expanduser()
            if not weights_path.is_file():
                raise BackboneError(f"weights file not found: {weights_path}")
            load_weights_strict(model, weights_path, f"the model in {path.name}")
    return model


def load_file_backbone(spec: BackboneSpec, modality: Modality, rep: Reporter) -> Backbone:
    """Load the backbone in the model file ``spec.path`` (image or tabular data).

    Raises:
        BackboneError: missing or unsafe file, missing sub-model or layer, weights that do
            not fit, or inputs of the wrong shape.
        SpecError: caffe/torch scaling asked for non-RGB images.
    """
    model = _open_model_file(spec, modality, rep)
    path = Path(spec.path or "")
    label = path.name
    if spec.submodel:
        model = find_submodel(model, spec.submodel, label)
        label = f"{spec.submodel} from {path.name}"
    if spec.cut_layer:
        model = cut_model(model, spec.cut_layer)
        label = f"{label} up to {spec.cut_layer}"
    if len(model.inputs) != 1:
        raise BackboneError(f"{label} takes {len(model.inputs)} inputs; a backbone must take "
                            f"one (images or features)")
    rank = len(model.inputs[0].shape)
    params = format_params(model.count_params())
    if modality == "tabular":
        if rank != 2:
            raise BackboneError(f"{label} takes inputs of shape {tuple(model.inputs[0].shape)}; "
                                f"numeric features need a model taking (batch, features)")
        return Backbone(model=model, modality="tabular", preprocessor=None, image_shape=None,
                        preprocessing="none", blocks=group_blocks(model),
                        description=f"{label}, {params} params")
    if rank != 4:
        raise BackboneError(f"{label} takes inputs of shape {tuple(model.inputs[0].shape)}, "
                            f"not images (batch, height, width, channels)")
    shape = image_shape(model, spec)
    fixed = tuple(model.inputs[0].shape[1:3])
    if None not in fixed and fixed != shape[:2]:
        model = _resize_input(model, shape, label)
    preprocessing: str = spec.preprocessing
    if preprocessing == "auto":
        preprocessing = pixel_preprocessing(f"{path.stem} {spec.submodel or ''}", model)
    if preprocessing in ("caffe", "torch") and shape[2] != 3:
        raise SpecError(f"backbone.preprocessing '{preprocessing}' needs RGB images but "
                        f"{label} takes {shape[2]} channel(s)")
    return Backbone(model=model, modality="image", preprocessor=None, image_shape=shape,
                    preprocessing=preprocessing, blocks=group_blocks(model),
                    description=f"{label}, {params} params")


def _nested_models(model: keras.Model) -> list[keras.Model]:
    found: list[keras.Model] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.append(layer)
            found.extend(_nested_models(layer))
    return found


def find_submodel(model: keras.Model, name: str, label: str = "the model") -> keras.Model:
    """Return the nested model called ``name`` inside ``model`` (searched at every depth).

    Raises:
        BackboneError: no such sub-model; the message lists the ones there are.
    """
    nested = _nested_models(model)
    for sub in nested:
        if sub.name == name:
            return sub
    if not nested:
        raise BackboneError(f"{label} has no sub-models, so backbone.submodel '{name}' cannot "
                            f"be used; leave it empty (or use backbone.cut_layer)")
    names = ", ".join(repr(s.name) for s in nested[:10])
    raise BackboneError(f"{label} has no sub-model '{name}'; its sub-models are {names}")


def cut_model(model: keras.Model, layer_name: str) -> keras.Model:
    """Return ``model`` from its inputs up to (and including) the output of ``layer_name``.

    Raises:
        BackboneError: no such layer (the message lists close names) or it cannot be cut there.
    """
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        close = difflib.get_close_matches(layer_name, names, n=5, cutoff=0.5)
        hint = close or names[-5:]
        raise BackboneError(f"{model.name} has no layer '{layer_name}'; "
                            f"{'close names' if close else 'its last layers'}: "
                            f"{', '.join(hint)}")
    layer = model.get_layer(layer_name)
    try:
        return keras.Model(model.input, layer.output, name=f"{model.name}_to_{layer_name}")
    except Exception as exc:  # noqa: BLE001
        raise BackboneError(f"cannot cut {model.name} at layer '{layer_name}': "
                            f"{first_line(exc)}") from exc


def _resize_input(model: keras.Model, shape: tuple[int, int, int],
                  label: str) -> keras.Model:
    """Return the same model (same weights) taking images of another size."""
    fixed = tuple(model.inputs[0].shape[1:3])
    try:
        new_input = keras.Input(shape=shape, name=model.inputs[0].name)
        clone = keras.models.clone_model(model, input_tensors=new_input)
        clone.set_weights(model.get_weights())
        return clone
    except Exception as exc:  # noqa: BLE001
        raise BackboneError(f"{label} takes {fixed[0]}x{fixed[1]} images and cannot be resized "
                            f"to {shape[0]}x{shape[1]}; set backbone.image_size to "
                            f"[{fixed[0]}, {fixed[1]}] or leave it empty") from exc
