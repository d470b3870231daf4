"""Image augmentation: Keras preprocessing layers inside the model, active only in training.

:func:`augmentation_layers` turns a spec's ``augment`` section into a ``keras.Sequential``
named :data:`AUGMENT_LAYER_NAME` of built-in random layers (flip, rotation, zoom, translation,
contrast, brightness), seeded by ``training.seed``. The heads put it on the raw pixels (0..255)
before the backbone's own pixel scaling. Keras calls it with ``training=True`` only inside
``fit``; at evaluation, prediction and in exports every layer is a cast, so saved models and
TFLite / ONNX files need nothing special. The layers' random states are model variables, so a
resumed run draws the same numbers as an uninterrupted one.

:func:`augmentation_enabled` is the one predicate for "does this spec augment": the feature
cache (frozen backbone features computed once) must be off then, since the backbone sees new
pixels every epoch. :func:`preview_augmentations` makes the window's preview strip.

Standard library at import time; Keras and the image loader are imported inside functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ftstudio.spec import ExperimentSpec
    from ftstudio.spec.parts import AugmentSpec

__all__ = ["AUGMENT_LAYER_NAME", "NO_CACHE_NOTE", "PREVIEW_SIZE", "apply_augmentation",
           "augmentation_enabled", "augmentation_layers", "describe_augmentation",
           "preview_augmentations"]

AUGMENT_LAYER_NAME = "augmentation"
"""The name of the model's augmentation block (a ``keras.Sequential``)."""
NO_CACHE_NOTE = ("Augmentation is on: the backbone sees new pixels every epoch, so its "
                 "features are computed afresh (the feature cache is off)")
"""What a run says when augmentation turns the feature cache off."""
PREVIEW_SIZE = 160
"""Height and width of the preview images when the spec sets no ``backbone.image_size``."""

_FACTORS = ("rotation", "zoom", "translation", "contrast", "brightness")


def augmentation_enabled(spec: ExperimentSpec) -> bool:
    """Whether ``spec`` augments its training images (image data and any factor on)."""
    return spec.modality == "image" and _any_on(spec.augment)


def _any_on(a: AugmentSpec) -> bool:
    return a.flip != "none" or any(getattr(a, key) > 0 for key in _FACTORS)


def describe_augmentation(a: AugmentSpec) -> str:
    """One line naming what is on ("flip horizontal, rotation ±0.05 turn …"; "" when off)."""
    parts = [f"flip {a.flip.replace('_', ' ')}"] if a.flip != "none" else []
    units = {"rotation": " turn", "zoom": "", "translation": "", "contrast": "",
             "brightness": ""}
    parts += [f"{key} ±{getattr(a, key):g}{units[key]}" for key in _FACTORS
              if getattr(a, key) > 0]
    return ", ".join(parts)


def augmentation_layers(spec: ExperimentSpec) -> Any | None:
    """The augmentation block of ``spec`` (``None`` when it does not augment).

    Each random layer gets its own seed derived from ``training.seed``, so a run repeats.
    Pixels stay in 0..255 (contrast and brightness are told that range).
    """
    if not augmentation_enabled(spec):
        return None
    import keras

    a, seed = spec.augment, spec.training.seed
    layers: list[Any] = []
    if a.flip != "none":
        layers.append(keras.layers.RandomFlip(a.flip, seed=seed, name="augment_flip"))
    if a.rotation > 0:
        layers.append(keras.layers.RandomRotation(a.rotation, fill_mode="reflect",
                                                  seed=seed + 1, name="augment_rotation"))
    if a.zoom > 0:
        layers.append(keras.layers.RandomZoom(a.zoom, fill_mode="reflect", seed=seed + 2,
                                              name="augment_zoom"))
    if a.translation > 0:
        layers.append(keras.layers.RandomTranslation(a.translation, a.translation,
                                                     fill_mode="reflect", seed=seed + 3,
                                                     name="augment_translation"))
    if a.contrast > 0:
        layers.append(keras.layers.RandomContrast(a.contrast, value_range=(0, 255),
                                                  seed=seed + 4, name="augment_contrast"))
    if a.brightness > 0:
        layers.append(keras.layers.RandomBrightness(a.brightness, value_range=(0, 255),
                                                    seed=seed + 5, name="augment_brightness"))
    return keras.Sequential(layers, name=AUGMENT_LAYER_NAME)


def apply_augmentation(spec: ExperimentSpec, image: Any) -> Any:
    """Put the augmentation block of ``spec`` on the symbolic ``image`` input (or return it)."""
    block = augmentation_layers(spec)
    return image if block is None else block(image)


def preview_augmentations(spec: ExperimentSpec, images: int = 3, variants: int = 5,
                          size: tuple[int, int] | None = None) -> np.ndarray:
    """A few training images and augmented versions of each, as the model would see them.

    Args:
        spec: an image spec (its ``data`` and ``augment`` sections; the split is not made,
            the first images of each class are taken in turn).
        images: how many different images.
        variants: augmented versions of each.
        size: ``(height, width)``; default ``backbone.image_size`` or :data:`PREVIEW_SIZE`.

    Returns:
        uint8 ``(images, 1 + variants, h, w, 3)``: each row the original, then its versions.

    Raises:
        SpecError: the spec has no image data.
    """
    import numpy as np

    from ftstudio.engine.data import load_data, load_images
    from ftstudio.errors import SpecError

    if spec.modality != "image":
        raise SpecError("augmentation previews need image data (data.image_dir)")
    data = load_data(spec)
    picks = _one_per_class(data.targets, len(data.inputs), images)
    h, w = size or tuple(spec.backbone.image_size or (PREVIEW_SIZE, PREVIEW_SIZE))
    originals = load_images([str(data.inputs[i]) for i in picks], (h, w), channels=3)
    block = augmentation_layers(spec)
    rows = [originals]
    for _ in range(variants):
        if block is None:
            rows.append(originals)
            continue
        out = np.asarray(block(originals.astype("float32"), training=True))
        rows.append(np.clip(np.rint(out), 0, 255).astype("uint8"))
    return np.stack(rows, axis=1)


def _one_per_class(targets: dict[str, Any], n: int, count: int) -> list[int]:
    """Positions of ``count`` examples, the first of each class in turn (varied previews)."""
    labels = next(iter(targets.values()), None)
    if labels is None:
        return list(range(min(count, n)))
    picks: list[int] = []
    seen: set[int] = set()
    for i, label in enumerate(labels):
        if int(label) not in seen:
            seen.add(int(label))
            picks.append(i)
        if len(picks) == count:
            return picks
    rest = [i for i in range(n) if i not in picks]
    return picks + rest[:count - len(picks)]
