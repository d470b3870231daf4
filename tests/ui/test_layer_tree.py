"""The layer tree model: grouping by block, trainable check boxes, live parameter counts."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from ftstudio.bridge.types import LayerRow
from ftstudio.formatting import format_params
from ftstudio.ui.widgets.layer_tree import COL_NAME, COL_TRAINABLE, LayerTreeModel

pytestmark = pytest.mark.gui


def bert_like() -> tuple[list[LayerRow], list[tuple[str, list[str]]]]:
    rows = [
        LayerRow("token_ids", "InputLayer", "(None, 8)", 0, True, None, 0, True),
        LayerRow("backbone", "BertBackbone", "(None, 4)", 1110, True, None, 0, True),
        LayerRow("token_embedding", "Embedding", "(None, 8, 4)", 100, True, "embeddings", 1),
        LayerRow("embeddings_norm", "LayerNormalization", "(None, 8, 4)", 10, True,
                 "embeddings", 1),
        LayerRow("transformer_layer_0", "TransformerEncoder", "(None, 8, 4)", 300, True,
                 "transformer_layer_0", 1),
        LayerRow("transformer_layer_1", "TransformerEncoder", "(None, 8, 4)", 300, True,
                 "transformer_layer_1", 1),
        LayerRow("bn", "BatchNormalization", "(None, 4)", 16, False, "transformer_layer_1", 1),
        LayerRow("pooled_dense", "Dense", "(None, 4)", 400, True, "transformer_layer_1", 1),
        LayerRow("pooling", "MaskedMeanPooling", "(None, 4)", 0, True, None, 0, False),
        LayerRow("label", "Dense", "(None, 3)", 15, True, None, 0, False),
    ]
    blocks = [("embeddings", ["token_embedding", "embeddings_norm"]),
              ("transformer_layer_0", ["transformer_layer_0"]),
              ("transformer_layer_1", ["transformer_layer_1", "bn", "pooled_dense"])]
    return rows, blocks


def titles(model: LayerTreeModel, parent: QModelIndex = QModelIndex()) -> list:  # noqa: B008
    out = []
    for r in range(model.rowCount(parent)):
        idx = model.index(r, COL_NAME, parent)
        kids = titles(model, idx)
        out.append((idx.data(), kids) if kids else idx.data())
    return out


@pytest.fixture
def model(qapp) -> LayerTreeModel:
    m = LayerTreeModel()
    rows, blocks = bert_like()
    m.set_layers(rows, blocks, 1141)
    return m


def test_groups_by_block_under_their_parent(model: LayerTreeModel) -> None:
    assert titles(model) == [
        ("backbone", [("embeddings", ["token_embedding", "embeddings_norm"]),
                      "transformer_layer_0",
                      ("transformer_layer_1", ["transformer_layer_1", "bn", "pooled_dense"])]),
        ("Head", ["pooling", "label"]),
    ]


def test_counts_live_and_toggles_become_a_layers_map(qtbot, model: LayerTreeModel) -> None:
    assert model.trainable_params() == 100 + 10 + 300 + 300 + 400 + 15  # BN never trains
    with qtbot.waitSignal(model.trainableChanged) as blocker:
        model.set_trainable("transformer_layer_0", False)
    assert blocker.args == [1125 - 300, 1141]
    mode, _, layers = model.freeze_settings()
    assert mode == "layers"
    assert layers == {"token_embedding": True, "embeddings_norm": True,
                      "transformer_layer_0": False, "transformer_layer_1": True,
                      "pooled_dense": True}


def test_group_box_sets_every_layer_below_and_shows_partial(model: LayerTreeModel) -> None:
    backbone = model.index(0, COL_TRAINABLE)
    emb = model.index(0, COL_TRAINABLE, model.index(0, COL_NAME))
    assert model.setData(emb, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert not model.is_trainable("token_embedding") and not model.is_trainable("embeddings_norm")
    assert backbone.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.PartiallyChecked
    assert model.setData(backbone, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert model.is_trainable("token_embedding")


def test_bulk_actions_mirror_the_freeze_modes(model: LayerTreeModel) -> None:
    model.freeze_all()
    assert model.freeze_settings()[0] == "all"
    assert model.trainable_params() == 15  # only the head
    model.unfreeze_last(1)
    assert model.freeze_settings()[:2] == ("last_n", 1)
    assert model.is_trainable("transformer_layer_1") and model.is_trainable("pooled_dense")
    assert not model.is_trainable("transformer_layer_0")
    assert not model.is_trainable("bn")
    model.unfreeze_all()
    assert model.trainable_params() == 1125


def test_head_and_batchnorm_rows_are_not_checkable(model: LayerTreeModel) -> None:
    head = model.index(1, COL_TRAINABLE)
    assert not model.flags(head) & Qt.ItemFlag.ItemIsUserCheckable
    assert head.data() == "always"
    block = model.index(2, COL_NAME, model.index(0, COL_NAME))
    bn = model.index(1, COL_TRAINABLE, block)
    assert not model.flags(bn) & Qt.ItemFlag.ItemIsUserCheckable
    assert not model.setData(bn, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)


def test_format_params() -> None:
    assert [format_params(n) for n in (12, 1_536, 1_774_464, 22_713_216)] == \
        ["12", "1.5K", "1.77M", "22.7M"]


def test_rate_column_shows_layer_decay_and_edits_block_multipliers(
        qtbot, model: LayerTreeModel) -> None:
    from ftstudio.ui.widgets.layer_tree import COL_RATE

    model.set_rates({}, 0.5)
    backbone = model.index(0, COL_NAME)
    emb, layer0, layer1 = (model.index(r, COL_NAME, backbone) for r in range(3))
    rates = [i.siblingAtColumn(COL_RATE).data() for i in (emb, layer0, layer1)]
    assert rates == ["0.125", "0.25", "0.5"]  # three blocks: 0.5 ** 3, ** 2, ** 1
    head_label = model.index(1, COL_NAME, model.index(1, COL_NAME))
    assert head_label.siblingAtColumn(COL_RATE).data() == "1"
    bn = model.index(1, COL_RATE, layer1)
    assert bn.data() is None and not model.flags(bn) & Qt.ItemFlag.ItemIsEditable
    cell = emb.siblingAtColumn(COL_RATE)
    assert model.flags(cell) & Qt.ItemFlag.ItemIsEditable
    with qtbot.waitSignal(model.ratesEdited):
        assert model.setData(cell, 0.0, Qt.ItemDataRole.EditRole)
    assert model.rate_multipliers() == {"embeddings": 0.0}
    token = model.index(0, COL_RATE, emb)
    assert token.data() == "0" and token.data(Qt.ItemDataRole.EditRole) == 0.0
    assert not model.setData(cell, -1.0, Qt.ItemDataRole.EditRole)  # refused
    assert model.setData(layer1.siblingAtColumn(COL_RATE), "2", Qt.ItemDataRole.EditRole)
    assert layer1.siblingAtColumn(COL_RATE).data() == "1"  # 0.5 decay x 2
    assert model.setData(cell, 1.0, Qt.ItemDataRole.EditRole)  # back to the default
    assert model.rate_multipliers() == {"transformer_layer_1": 2.0}
