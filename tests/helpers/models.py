"""Tiny random Keras models for tests (a few layers, 2-8 units), seeded and named.

Real pretrained weights stay behind the ``pretrained`` marker; these build in well under a
second and save to ``.keras`` files the library and the backbones load like real ones.
"""

from __future__ import annotations

from pathlib import Path

import keras

from ftstudio.engine.backbone_base import Backbone

__all__ = [
    "BERT_VOCAB", "TINY_CNN_BLOCKS", "save_model", "tiny_bert_preset", "tiny_cnn",
    "tiny_cnn_backbone", "tiny_dense", "tiny_image_classifier",
]

BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox",
              "dog", "good", "bad", "movie"]
"""The word-piece vocabulary of :func:`tiny_bert_preset`."""


def save_model(model: keras.Model, path: Path) -> Path:
    """Save ``model`` to ``path`` (``.keras`` / ``.h5`` by suffix) and return the path."""
    model.save(path)
    return path


def tiny_dense(inputs: int = 3, units: int = 2, compiled: bool = True) -> keras.Model:
    """``Input(inputs) -> Dense(units)``, compiled with Adam and MSE unless told not to."""
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(units)])
    if compiled:
        model.compile("adam", "mse")
    return model


def tiny_image_classifier(size: int = 8, classes: int = 2, nested: bool = False,
                          seed: int | None = None) -> keras.Model:
    """``pixels -> conv -> pool -> probs``: a 2-filter conv net with a softmax head.

    Args:
        size: image height and width (3 channels).
        classes: units of the softmax layer ``probs``.
        nested: put the conv layer in a sub-model called ``features`` (for ``--submodel``).
        seed: seed Keras' random state first (None leaves it as it is).
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, 3), name="pixels")
    if nested:
        sub_in = keras.Input((size, size, 3))
        features = keras.Model(sub_in, keras.layers.Conv2D(2, 3, name="conv")(sub_in),
                               name="features")
        x = features(inp)
    else:
        x = keras.layers.Conv2D(2, 3, name="conv")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    out = keras.layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out)


def tiny_cnn(size: int = 16, name: str = "encoder") -> keras.Model:
    """A small conv net with batch norm, named like a Keras application (stem_, block1_, block2_).

    Output: a ``(size / 2, size / 2, 6)`` feature map (no pooling, no head).
    """
    inp = keras.Input((size, size, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, padding="same", name="stem_conv")(inp)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv")(x)
    x = keras.layers.BatchNormalization(name="block1_bn")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu",
                            name="block2_conv")(x)
    x = keras.layers.BatchNormalization(name="block2_bn")(x)
    return keras.Model(inp, x, name=name)


TINY_CNN_BLOCKS = [("stem", ["stem_conv", "stem_bn"]),
                   ("block1", ["block1_conv", "block1_bn"]),
                   ("block2", ["block2_conv", "block2_bn"])]
"""The blocks of :func:`tiny_cnn`, as ``load_backbone`` groups a Keras application's layers."""


def tiny_cnn_backbone(preprocessing: str = "scale_0_1", description: str = "",
                      seed: int = 0) -> Backbone:
    """:func:`tiny_cnn` (16 x 16 pixels, seeded first) as an image ``Backbone`` with its blocks.

    Args:
        preprocessing: the backbone's resolved pixel scaling mode.
        description: the backbone's one-line description.
        seed: seed Keras' random state with this before building the net.
    """
    keras.utils.set_random_seed(seed)
    return Backbone(model=tiny_cnn(16), modality="image", image_shape=(16, 16, 3),
                    preprocessing=preprocessing,
                    blocks=[(name, list(layers)) for name, layers in TINY_CNN_BLOCKS],
                    description=description)


def tiny_bert_preset(folder: Path, num_layers: int = 2, sequence_length: int = 8) -> Path:
    """A keras-hub preset folder with a random hidden-4 BERT and its tokenizer (seed 0)."""
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(BERT_VOCAB), num_layers=num_layers, num_heads=2, hidden_dim=4,
        intermediate_dim=8, max_sequence_length=128)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=BERT_VOCAB)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length)
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return folder
