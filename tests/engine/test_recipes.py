"""Training recipes: the settings the window recommends for a data kind and freezing."""

from __future__ import annotations

from pathlib import Path

from ftstudio.engine.recipes import gradual_unfreeze_stages, recommended_training
from ftstudio.spec import BackboneSpec, DataSpec, ExperimentSpec, FreezeSpec


def test_recommended_settings_follow_the_recipe(tmp_path: Path) -> None:
    text = ExperimentSpec(data=DataSpec(path="x.csv", text_column="t", label_column="y"))
    recipe = recommended_training(text)
    assert (recipe["optimizer"], recipe["learning_rate"], recipe["head_first_epochs"],
            recipe["unfreeze_lr_factor"]) == \
        ("adamw", 1e-2, 2, 0.01)  # the best measured recipe (benchmarks/recipe_text.py)
    text.freeze = FreezeSpec(mode="all")
    assert recommended_training(text)["learning_rate"] == 1e-3
    assert recommended_training(text)["layer_decay"] == 1.0  # a frozen backbone: no decay
    tab = ExperimentSpec(data=DataSpec(path="x.csv", feature_columns=["a"], label_column="y"),
                         backbone=BackboneSpec(source="none"))
    assert recommended_training(tab)["epochs"] == 30
    img = ExperimentSpec(data=DataSpec(image_dir=str(tmp_path), label_column="label"))
    assert recommended_training(img)["head_first_epochs"] == 2


def test_gradual_unfreezing_stages_stop_at_the_epochs_and_the_mode() -> None:
    spec = ExperimentSpec(data=DataSpec(path="x.csv", text_column="t", label_column="y"),
                          freeze=FreezeSpec(gradual_unfreeze_epochs=2))
    spec.training.epochs = 7
    assert gradual_unfreeze_stages(spec, 2) == [("head", 0, 2, 0), ("top 1 block", 2, 4, 1),
                                                ("top 2 blocks", 4, 7, None)]
    spec.training.epochs = 3  # the run ends first: the last stage kept runs to the end
    assert gradual_unfreeze_stages(spec, 6) == [("head", 0, 2, 0), ("top 1 block", 2, 3, 1)]
    spec.freeze.mode = "all"
    assert gradual_unfreeze_stages(spec, 6) == []
    spec.freeze.mode, spec.freeze.gradual_unfreeze_epochs = "none", 0
    assert gradual_unfreeze_stages(spec, 6) == []
