"""Engine messages in the window's words.

The engine's messages name spec keys (``data.encoding``, ``training.class_weight``) because
the same messages serve the command line, where a spec file is what the user edits. In the
window the user edits fields, not keys: :func:`in_window_words` names the field and the page
instead. Messages without spec keys pass through unchanged.
"""

from __future__ import annotations

import re
from dataclasses import fields

from ftstudio.spec import FreezeSpec, HeadSpec, TrainSpec

__all__ = ["in_window_words"]


def _keys(cls: type) -> str:
    return "|".join(f.name for f in fields(cls))


_FIELDS: tuple[tuple[str, str], ...] = (
    (r"backbone\.source ['\"]none['\"]", "“No backbone” (Model page)"),
    (r"backbone\.source ['\"]library['\"]", "a model library backbone (Model page)"),
    (r"backbone\.source ['\"]file['\"]", "a local model file (Model page)"),
    (r"backbone\.source ['\"]applications['\"]", "a Keras applications backbone (Model page)"),
    (r"backbone\.source ['\"]keras_hub['\"]", "a keras-hub model folder (Model page)"),
    (r"backbone\.(path|name)", "the backbone (Model page)"),
    (r"backbone\.sequence_length", "Tokens (Model page)"),
    (r"data\.encoding", "the Encoding (Data page)"),
    (r"data\.delimiter", "the Delimiter (Data page)"),
    (r"data\.(label_column|text_column|feature_columns)", "the columns (Data page)"),
    (r"data\.split", "the split (Data page)"),
    (r"data\.image_dir", "the image folder (Data page)"),
    (r"data\.path", "the data file (Data page)"),
    (r"training\.class_weight( = ['\"]balanced['\"])?", "Class weights: balanced (Train page)"),
    (r"training\.learning_rate", "the learning rate (Train page)"),
    (r"training\.gradient_clip_norm", "Clip gradients (Train page)"),
    (r"training\.batch_size", "the batch size (Train page)"),
    (r"training\.epochs", "Epochs (Train page)"),
    (r"training\.monitor", "the early-stopping Monitor (Train page)"),
    (rf"training\.({_keys(TrainSpec)})\b", "the training settings (Train page)"),
    (rf"freeze\.({_keys(FreezeSpec)})\b", "the layer choices (Model page)"),
    (rf"head\.({_keys(HeadSpec)})\b", "the head (Model page)"),
)
_PATTERNS = [(re.compile(r"(?<![\w/\\.-])" + pattern), words) for pattern, words in _FIELDS]
"""Each key only where it starts a word: ``training.csv`` in a path stays as it is."""


def in_window_words(message: str) -> str:
    """``message`` with every spec key replaced by the window field (and page) that sets it.

    Example:
        ``"… (set data.encoding if the file is not …)"`` becomes
        ``"… (set the Encoding (Data page) if the file is not …)"``.
    """
    for pattern, words in _PATTERNS:
        message = pattern.sub(words, message)
    return message
