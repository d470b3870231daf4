"""Training recipes: sensible training settings for an experiment's data kind and freezing.

Stdlib only (no TensorFlow): the window asks for a recipe through the bridge while the user
edits the spec, long before the engine has loaded.
"""

from __future__ import annotations

from typing import Any

from ftstudio.spec import ExperimentSpec

__all__ = ["recommended_training"]


def recommended_training(spec: ExperimentSpec) -> dict[str, Any]:
    """Sensible training settings for the spec's data kind and freezing.

    Follows the usual recipes: a transformer fine-tuned end to end wants AdamW at ~5e-5 with
    warm-up and cosine decay; a frozen backbone (or a tabular MLP) lets the head learn at
    1e-3; an image CNN fine-tuned end to end trains the head first, then the rest at a 10×
    lower rate.

    Args:
        spec: the experiment (only its data kind, backbone source and freezing are read).

    Returns:
        ``TrainSpec`` field -> value, plus the freeze section's ``head_first_epochs`` (and
        ``unfreeze_lr_factor`` for the two-phase recipe).
    """
    modality = spec.modality
    frozen = spec.freeze.mode == "all" or (spec.freeze.mode == "last_n"
                                           and spec.freeze.last_n == 0)
    if modality == "tabular" or spec.backbone.source == "none":
        return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 30, "batch_size": 32,
                "schedule": "constant", "warmup_fraction": 0.0, "early_stopping_patience": 5,
                "head_first_epochs": 0}
    if frozen:
        return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10, "batch_size": 32,
                "schedule": "constant", "warmup_fraction": 0.0, "early_stopping_patience": 3,
                "head_first_epochs": 0}
    if modality == "text":
        return {"optimizer": "adamw", "learning_rate": 5e-5, "epochs": 4, "batch_size": 16,
                "schedule": "cosine", "warmup_fraction": 0.1, "early_stopping_patience": 0,
                "head_first_epochs": 0}
    return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 8, "batch_size": 32,
            "schedule": "cosine", "warmup_fraction": 0.0, "early_stopping_patience": 3,
            "head_first_epochs": 2, "unfreeze_lr_factor": 0.1}
