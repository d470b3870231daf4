"""Training recipes: the settings the window recommends for a data kind and freezing."""

from __future__ import annotations

from pathlib import Path

from ftstudio.engine.recipes import recommended_training
from ftstudio.spec import BackboneSpec, DataSpec, ExperimentSpec, FreezeSpec


def test_recommended_settings_follow_the_recipe(tmp_path: Path) -> None:
    text = ExperimentSpec(data=DataSpec(path="x.csv", text_column="t", label_column="y"))
    assert recommended_training(text)["learning_rate"] == 5e-5
    text.freeze = FreezeSpec(mode="all")
    assert recommended_training(text)["learning_rate"] == 1e-3
    tab = ExperimentSpec(data=DataSpec(path="x.csv", feature_columns=["a"], label_column="y"),
                         backbone=BackboneSpec(source="none"))
    assert recommended_training(tab)["epochs"] == 30
    img = ExperimentSpec(data=DataSpec(image_dir=str(tmp_path), label_column="label"))
    assert recommended_training(img)["head_first_epochs"] == 2
