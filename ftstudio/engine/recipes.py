"""Training recipes: sensible training settings for an experiment's data kind and freezing.

Stdlib only (no TensorFlow): the window asks for a recipe through the bridge while the user
edits the spec, long before the engine has loaded.
"""

from __future__ import annotations

from typing import Any

from ftstudio.spec import ExperimentSpec

__all__ = ["gradual_unfreeze_stages", "recommended_training"]


def recommended_training(spec: ExperimentSpec) -> dict[str, Any]:
    """Sensible training settings for the spec's data kind and freezing.

    Measured recipes: a transformer fine-tuned end to end first trains its head alone for two
    epochs at a high rate (1e-2, on cached backbone features, so they cost little), then the
    whole encoder with AdamW at 1e-4 (``unfreeze_lr_factor`` 0.01), batch 16, warm-up and
    cosine decay. On 2,000 real movie-review snippets (``benchmarks/recipe_text.py``, 2
    fine-tuning epochs, 1,000 test snippets) it scored 0.838, the best of the recipes
    measured: plain Adam 5e-5 0.831, AdamW 2e-4 with layer-wise decay 0.8 0.829, AdamW 5e-5
    0.817, the same head-first recipe at batch 32 0.837 (differences within the test set's
    noise of about +-1.2 points). A frozen backbone (or a tabular MLP) lets the head learn
    at 1e-3; an image CNN fine-tuned end to end trains the head first, then its top blocks
    at a 10x lower rate (``benchmarks/recipe_image.py``).

    Args:
        spec: the experiment (only its data kind, backbone source and freezing are read).

    Returns:
        ``TrainSpec`` field -> value, plus the freeze section's ``head_first_epochs`` and
        ``layer_decay`` (and ``unfreeze_lr_factor`` for the two-phase recipe).
    """
    modality = spec.modality
    frozen = spec.freeze.mode == "all" or (spec.freeze.mode == "last_n"
                                           and spec.freeze.last_n == 0)
    if modality == "tabular" or spec.backbone.source == "none":
        return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 30, "batch_size": 32,
                "schedule": "constant", "warmup_fraction": 0.0, "early_stopping_patience": 5,
                "head_first_epochs": 0, "layer_decay": 1.0}
    if frozen:
        return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10, "batch_size": 32,
                "schedule": "constant", "warmup_fraction": 0.0, "early_stopping_patience": 3,
                "head_first_epochs": 0, "layer_decay": 1.0}
    if modality == "text":
        return {"optimizer": "adamw", "learning_rate": 1e-2, "epochs": 4, "batch_size": 16,
                "schedule": "cosine", "warmup_fraction": 0.1, "early_stopping_patience": 0,
                "head_first_epochs": 2, "unfreeze_lr_factor": 0.01, "layer_decay": 1.0}
    return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 8, "batch_size": 32,
            "schedule": "cosine", "warmup_fraction": 0.0, "early_stopping_patience": 3,
            "head_first_epochs": 2, "unfreeze_lr_factor": 0.1, "layer_decay": 1.0}


def gradual_unfreeze_stages(spec: ExperimentSpec,
                            n_blocks: int) -> list[tuple[str, int, int, int | None]]:
    """The stages of gradual unfreezing (ULMFiT): ``(name, first epoch, end, top blocks)``.

    The head learns alone for ``freeze.gradual_unfreeze_epochs`` epochs (top blocks 0), then
    one more backbone block from the top joins every that many epochs, up to what the freeze
    mode lets learn (the last stage: ``None``, the mode as it is). Stages past
    ``training.epochs`` are left out; the last one kept runs to the end.

    Args:
        spec: the experiment (its freeze section and epoch count).
        n_blocks: the backbone's block count.
    """
    every = spec.freeze.gradual_unfreeze_epochs
    epochs = spec.training.epochs
    f = spec.freeze
    allowed = {"all": 0, "last_n": min(f.last_n, n_blocks)}.get(f.mode, n_blocks)
    if every <= 0 or allowed == 0:
        return []
    stages: list[tuple[str, int, int, int | None]] = []
    for k in range(allowed + 1):
        start = k * every
        if start >= epochs:
            break
        top: int | None = k if k < allowed else None
        name = "head" if k == 0 else f"top {k} block{'s' if k > 1 else ''}"
        stages.append((name, start, start + every, top))
    last_name, last_start, _, last_top = stages[-1]
    stages[-1] = (last_name, last_start, epochs, last_top)
    return stages
