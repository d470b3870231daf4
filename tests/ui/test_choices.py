"""The window's choice lists come from the spec: a value the spec gains shows up in the window."""

from __future__ import annotations

from typing import get_args

import pytest
from PySide6.QtWidgets import QComboBox

from ftstudio.spec import (
    FreezeMode,
    HeadSpec,
    LayerType,
    Optimizer,
    OutputActivation,
    Pooling,
    Schedule,
    Task,
)
from ftstudio.ui.choices import fitting_activation, spec_values
from ftstudio.ui.pages.data_parts import ColumnsCard
from ftstudio.ui.pages.model_parts import FREEZE_SUMMARIES
from ftstudio.ui.pages.train_parts import TrainSettingsForm
from ftstudio.ui.widgets.head_builder import HeadBuilder
from ftstudio.ui.widgets.head_choices import POOLINGS

pytestmark = pytest.mark.gui


def values(combo: QComboBox, data: bool = False) -> set[str]:
    """What a combo box offers (its texts, or its item data)."""
    if data:
        return {combo.itemData(i) for i in range(combo.count())}
    return {combo.itemText(i) for i in range(combo.count())}


def test_spec_values_puts_the_usual_ones_first() -> None:
    assert spec_values(Optimizer, first=("adamw",))[0] == "adamw"
    assert sorted(spec_values(Optimizer, first=("adamw",))) == sorted(get_args(Optimizer))
    with pytest.raises(ValueError, match="not values"):
        spec_values(Optimizer, first=("lion-x",))


def test_train_form_offers_every_optimizer_and_schedule(qtbot) -> None:  # noqa: ANN001
    form = TrainSettingsForm()
    qtbot.addWidget(form)
    assert values(form.optimizer) == set(get_args(Optimizer))
    assert form.optimizer.itemText(0) == "adamw"  # the default first
    assert values(form.schedule) == set(get_args(Schedule))


def test_data_page_offers_every_task(qtbot) -> None:  # noqa: ANN001
    card = ColumnsCard()
    qtbot.addWidget(card)
    assert values(card.task_combo) == set(get_args(Task))


def test_head_builder_offers_every_spec_value(qtbot) -> None:  # noqa: ANN001
    builder = HeadBuilder()
    qtbot.addWidget(builder)
    builder.set_head(HeadSpec(), ["y"], "")
    assert set(builder.add_buttons) == set(get_args(LayerType))
    assert values(builder.pooling) == set(get_args(Pooling))
    task = builder.outputs.cellWidget(0, 2)
    activation = builder.outputs.cellWidget(0, 3)
    assert isinstance(task, QComboBox) and isinstance(activation, QComboBox)
    assert values(task, data=True) == set(get_args(Task))
    assert values(activation) == set(get_args(OutputActivation))
    # each data kind offers some of the spec's poolings, and together all of them
    by_kind = [set(v) for k, v in POOLINGS.items() if k]
    assert set().union(*by_kind) == set(get_args(Pooling))
    assert all(kind <= set(get_args(Pooling)) for kind in by_kind)


def test_head_builder_adds_a_layer_of_each_type(qtbot) -> None:  # noqa: ANN001
    builder = HeadBuilder()
    qtbot.addWidget(builder)
    head = HeadSpec()
    builder.set_head(head, [], "text")
    for button in builder.add_buttons.values():
        button.click()
    assert [layer.type for layer in head.layers] == list(get_args(LayerType))


def test_the_model_summary_names_every_freeze_mode() -> None:
    assert set(FREEZE_SUMMARIES) == set(get_args(FreezeMode))


def test_an_output_activation_follows_its_task() -> None:
    assert fitting_activation("regression", "softmax") == "auto"
    assert fitting_activation("regression", "linear") == "linear"
    assert fitting_activation("classification", "linear") == "auto"
    assert fitting_activation("classification", "sigmoid") == "sigmoid"
