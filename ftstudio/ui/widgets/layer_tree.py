"""The layer tree: a QAbstractItemModel over the engine's layer rows with a trainable column.

Rows are grouped by backbone block (BERT encoder layers, ResNet stages, …); nested layers sit
under their parent; the head's layers form their own group. The "Trainable" column is a check
box: ticking a block or a parent layer sets every layer below it, and the count of trainable
parameters updates at once (no rebuild). Bulk actions mirror the spec's freeze modes:
:meth:`LayerTreeModel.freeze_all` (``all``), :meth:`~LayerTreeModel.unfreeze_all` (``none``),
:meth:`~LayerTreeModel.unfreeze_last` (``last_n``); any single toggle switches to ``layers``
with an explicit name -> trainable map (:meth:`~LayerTreeModel.freeze_settings`).

The "LR ×" column shows each block's learning-rate factor (layer-wise decay times the
block's multiplier) and edits the multiplier of a block or layer (the spec's
``freeze.lr_multipliers``, :meth:`~LayerTreeModel.rate_multipliers`).

BatchNormalization layers are shown frozen and cannot be ticked: the engine always keeps them
in inference mode while fine-tuning (the Keras transfer-learning recipe). Backbone layers the
model does not use (a keras-hub pooler under mean pooling) are shown "unused" and never count
as trainable, as in the engine's own count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from ftstudio.bridge.types import LayerRow
from ftstudio.formatting import format_params

__all__ = ["COLUMNS", "COL_RATE", "LayerTreeModel"]

COLUMNS = ("Layer", "Trainable", "Type", "Output shape", "Params", "LR ×")
COL_NAME, COL_TRAINABLE, COL_TYPE, COL_SHAPE, COL_PARAMS, COL_RATE = range(6)
HEAD_GROUP = "Head"

_Index = QModelIndex | QPersistentModelIndex


def is_batch_norm(row: LayerRow) -> bool:
    """Return True for normalisation layers the engine keeps frozen (batch statistics)."""
    return "BatchNorm" in row.type


def is_locked(row: LayerRow) -> bool:
    """Return True for backbone layers that never learn (BatchNorm, a pooler left unused)."""
    return is_batch_norm(row) or row.always_frozen


@dataclass(eq=False)
class _Node:
    """One tree item: a block group or a layer."""

    title: str
    row: LayerRow | None = None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    head: bool = False

    def index_in_parent(self) -> int:
        return self.parent.children.index(self) if self.parent is not None else 0

    def leaves(self) -> list[_Node]:
        if not self.children:
            return [self] if self.row is not None else []
        out: list[_Node] = []
        for child in self.children:
            out.extend(child.leaves())
        return out


class LayerTreeModel(QAbstractItemModel):
    """Tree model of a built model's layers with checkable trainable flags.

    Signals:
        trainableChanged(int, int): trainable and total parameter counts after a change.
        freezeEdited(): the user changed trainable flags (the spec's freeze section is stale).
        ratesEdited(): the user changed a learning-rate multiplier.
    """

    trainableChanged = Signal(int, int)
    freezeEdited = Signal()
    ratesEdited = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root = _Node("root")
        self._trainable: dict[str, bool] = {}
        self._by_name: dict[str, _Node] = {}
        self._blocks: list[tuple[str, list[str]]] = []
        self._total = 0
        self._mode = "none"
        self._last_n = 2
        self._multipliers: dict[str, float] = {}
        self._decay = 1.0
        self._bold = QFont()
        self._bold.setBold(True)
        self._grey = QBrush(QColor("#80868b"))
        self._group_bg = QBrush(QColor("#f1f3f6"))

    # ------------------------------------------------------------ building
    def set_layers(self, rows: list[LayerRow], blocks: list[tuple[str, list[str]]],
                   total_params: int) -> None:
        """Show the layers of a freshly built model (their ``trainable`` as the engine set it)."""
        self.beginResetModel()
        self._root = _Node("root")
        self._by_name = {}
        self._blocks = [(str(b), list(names)) for b, names in blocks]
        rows = [r for r in rows if r.type != "InputLayer"]
        block_size: dict[str, int] = {}
        for r in rows:
            if r.block:
                block_size[r.block] = block_size.get(r.block, 0) + 1
        groups: dict[tuple[int, str], _Node] = {}
        head_group: _Node | None = None
        stack: list[_Node] = []
        for row in rows:
            node = _Node(row.name, row)
            self._by_name.setdefault(row.name, node)
            while stack and stack[-1].row is not None and stack[-1].row.depth >= row.depth:
                stack.pop()
            container = stack[-1] if (row.depth > 0 and stack) else self._root
            if container is self._root and not row.in_backbone:
                if head_group is None:
                    head_group = _Node(HEAD_GROUP, head=True, parent=self._root)
                    self._root.children.append(head_group)
                container = head_group
            parent = container
            block = row.block
            if block and row.in_backbone and block_size.get(block, 0) > 1:
                key = (id(container), block)
                parent = groups.get(key)  # type: ignore[assignment]
                if parent is None:
                    parent = _Node(block, parent=container)
                    groups[key] = parent
                    container.children.append(parent)
            node.parent = parent
            node.head = parent.head
            parent.children.append(node)
            stack.append(node)
        if head_group is not None:  # the head goes last, under the backbone
            self._root.children.remove(head_group)
            self._root.children.append(head_group)
        self._trainable = {r.name: (r.trainable and not is_locked(r)) or not r.in_backbone
                           for r in rows}
        self._total = int(total_params)
        self.endResetModel()
        self.trainableChanged.emit(self.trainable_params(), self._total)

    def clear(self) -> None:
        """Show nothing."""
        self.set_layers([], [], 0)

    # ------------------------------------------------------------- counts
    def trainable_params(self) -> int:
        """Parameters of the trainable leaf layers."""
        return sum(n.row.params for n in self._root.leaves()
                   if n.row is not None and self._trainable.get(n.row.name, False))

    def total_params(self) -> int:
        """All parameters of the model."""
        return self._total

    def blocks(self) -> list[str]:
        """Block names, bottom to top."""
        return [b for b, _ in self._blocks]

    def is_trainable(self, name: str) -> bool:
        """Whether layer ``name`` is ticked."""
        return self._trainable.get(name, False)

    def layer_names(self) -> list[str]:
        """Every layer name in the tree."""
        return list(self._by_name)

    # ------------------------------------------------------------ freezing
    def freeze_settings(self) -> tuple[str, int, dict[str, bool]]:
        """Return the spec's ``(freeze.mode, freeze.last_n, freeze.layers)`` for the ticks."""
        if self._mode != "layers":
            return self._mode, self._last_n, {}
        layers = {n.row.name: self._trainable.get(n.row.name, False)
                  for n in self._root.leaves() if n.row is not None and n.row.in_backbone
                  and not is_locked(n.row)}
        return "layers", self._last_n, layers

    def set_mode(self, mode: str, last_n: int) -> None:
        """Record the spec's freeze mode without changing any tick (the engine set them)."""
        self._mode, self._last_n = mode, int(last_n)

    def apply_freeze(self, mode: str, last_n: int = 2,
                     layers: dict[str, bool] | None = None) -> None:
        """Tick the boxes as the engine's freeze ``mode`` would set them (no signal to edit)."""
        self._mode, self._last_n = mode, int(last_n)
        last_blocks = {b for b, _ in self._blocks[len(self._blocks) - self._last_n:]} \
            if self._last_n > 0 else set()
        in_last = {name for b, names in self._blocks if b in last_blocks for name in names}
        for name, node in self._by_name.items():
            row = node.row
            assert row is not None
            if not row.in_backbone:
                value = True
            elif is_locked(row):
                value = False
            elif mode == "all":
                value = False
            elif mode == "none":
                value = True
            elif mode == "last_n":
                value = self._under_block(node, last_blocks, in_last)
            else:
                value = self._layers_value(node, layers or {})
            self._trainable[name] = value
        self._refresh_all()

    def _under_block(self, node: _Node, blocks: set[str], names: set[str]) -> bool:
        cur: _Node | None = node
        while cur is not None:
            if cur.row is None and cur.title in blocks:
                return True
            if cur.row is not None and (cur.row.name in names or cur.row.block in blocks):
                return True
            cur = cur.parent
        return False

    def _layers_value(self, node: _Node, layers: dict[str, bool]) -> bool:
        cur: _Node | None = node
        while cur is not None:
            if cur.row is not None and cur.row.name in layers:
                return bool(layers[cur.row.name])
            cur = cur.parent
        return True

    def freeze_all(self) -> None:
        """Freeze the whole backbone (train the head only: a linear probe)."""
        self.apply_freeze("all", self._last_n)
        self.freezeEdited.emit()

    def unfreeze_all(self) -> None:
        """Let every backbone layer learn (full fine-tuning; BatchNorm stays frozen)."""
        self.apply_freeze("none", self._last_n)
        self.freezeEdited.emit()

    def unfreeze_last(self, n: int) -> None:
        """Let only the top ``n`` blocks of the backbone learn."""
        self.apply_freeze("last_n", max(0, int(n)))
        self.freezeEdited.emit()

    def set_trainable(self, name: str, value: bool) -> None:
        """Tick or untick a layer (and everything below it) by name, as a click would."""
        node = self._by_name[name]
        self.setData(self.createIndex(node.index_in_parent(), COL_TRAINABLE, node),
                     Qt.CheckState.Checked if value else Qt.CheckState.Unchecked,
                     Qt.ItemDataRole.CheckStateRole)

    # ------------------------------------------------------- learning rates
    def set_rates(self, multipliers: dict[str, float], layer_decay: float) -> None:
        """Show the spec's ``freeze.lr_multipliers`` and ``freeze.layer_decay`` (no signal)."""
        self._multipliers = {str(k): float(v) for k, v in multipliers.items()}
        self._decay = float(layer_decay)
        if self._root.children:
            self._emit_changed(self._root)

    def rate_multipliers(self) -> dict[str, float]:
        """The multipliers the user set: block or layer name -> factor."""
        return dict(self._multipliers)

    def rate(self, node: _Node) -> float:
        """The learning-rate factor of ``node``: layer decay of its block x its multiplier."""
        block = node.title if node.row is None else node.row.block
        names = [b for b, _ in self._blocks]
        in_backbone = node.row.in_backbone if node.row is not None else not node.head
        decay = self._decay ** (len(names) - names.index(block)) \
            if in_backbone and block in names else 1.0
        return decay * self._multiplier(node)[0]

    def _multiplier(self, node: _Node) -> tuple[float, bool]:
        """``(multiplier, set on this very node)``: the innermost named node's, else 1."""
        cur: _Node | None = node
        while cur is not None and cur is not self._root:
            key = self._key(cur)
            if key in self._multipliers:
                return self._multipliers[key], cur is node
            cur = cur.parent
        if node.row is not None and node.row.block in self._multipliers:
            return self._multipliers[node.row.block], False
        return 1.0, False

    @staticmethod
    def _key(node: _Node) -> str:
        return node.row.name if node.row is not None else node.title

    def _rate_editable(self, node: _Node) -> bool:
        if node.row is None:
            return not node.head
        return not is_locked(node.row) and node.row.params > 0

    def _set_rate(self, node: _Node, value: Any) -> bool:
        try:
            factor = float(value)
        except (TypeError, ValueError):
            factor = -1.0
        if not factor >= 0:  # NaN too
            return False
        key = self._key(node)
        self._multipliers.pop(key, None)
        if factor != self._multiplier(node)[0]:
            self._multipliers[key] = factor
        self._emit_changed(self._root)
        self.ratesEdited.emit()
        return True

    def _rate_text(self, node: _Node) -> str | None:
        if node.head and node.row is None or (node.row is not None and (
                is_locked(node.row) or not node.row.params)):
            return None  # nothing there learns
        return f"{self.rate(node):.3g}"

    def _rate_tip(self, node: _Node) -> str:
        multiplier, own = self._multiplier(node)
        return (f"Learning rate × {self.rate(node):.3g} for {self._key(node)}: multiplier "
                f"{multiplier:g}{'' if own else ' (inherited)'} × layer decay. Double-click "
                f"to set the multiplier (0 = does not move).")

    def _refresh_all(self) -> None:
        if self._root.children:
            self._emit_changed(self._root)
        self.trainableChanged.emit(self.trainable_params(), self._total)

    def _emit_changed(self, node: _Node) -> None:
        if node.children:
            first = self.createIndex(0, COL_TRAINABLE, node.children[0])
            last = self.createIndex(len(node.children) - 1, COL_RATE, node.children[-1])
            self.dataChanged.emit(first, last, [Qt.ItemDataRole.CheckStateRole,
                                                Qt.ItemDataRole.ForegroundRole])
            for child in node.children:
                self._emit_changed(child)

    def _state(self, node: _Node) -> Qt.CheckState:
        leaves = node.leaves()
        if not leaves:
            return Qt.CheckState.Unchecked
        # leaves() only returns nodes with a row
        on = sum(1 for n in leaves if n.row is not None and self._trainable.get(n.row.name, False))
        if on == len(leaves):
            return Qt.CheckState.Checked
        return Qt.CheckState.Unchecked if on == 0 else Qt.CheckState.PartiallyChecked

    def _checkable(self, node: _Node) -> bool:
        if node.head:
            return False
        if node.row is not None and is_locked(node.row) and not node.children:
            return False
        return any(n.row is not None and not is_locked(n.row) for n in node.leaves())

    # ------------------------------------------------------------- Qt API
    def _node(self, index: _Index) -> _Node:
        if index.isValid():
            return index.internalPointer()  # type: ignore[no-any-return]
        return self._root

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008, D102
        node = self._node(parent)
        if 0 <= row < len(node.children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008, D102
        if not index.isValid():
            return QModelIndex()
        node: _Node = index.internalPointer()
        parent = node.parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.index_in_parent(), 0, parent)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802, D102
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:  # noqa: D102
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        node = self._node(index)
        if index.column() == COL_TRAINABLE and self._checkable(node):
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        if index.column() == COL_RATE and self._rate_editable(node):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        node = self._node(index)
        col = index.column()
        row = node.row
        if col == COL_RATE:
            return self._rate_data(node, role)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return node.title
            if col == COL_TRAINABLE:
                if node.head:
                    return "always"
                if row is not None and is_locked(row) and not node.children:
                    return "frozen" if is_batch_norm(row) else "unused"
                return None
            if row is None:
                if col == COL_PARAMS:
                    return format_params(sum(n.row.params for n in node.leaves()  # type: ignore[union-attr]
                                             if n.row is not None))
                if col == COL_TYPE:
                    return f"{len(node.children)} layers"
                return None
            if col == COL_TYPE:
                return row.type
            if col == COL_SHAPE:
                return row.output_shape
            if col == COL_PARAMS:
                return f"{row.params:,}" if row.params < 100_000 else format_params(row.params)
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_TRAINABLE:
            if node.head:
                return None
            if row is not None and is_locked(row) and not node.children:
                return None
            return self._state(node)
        if role == Qt.ItemDataRole.FontRole and row is None:
            return self._bold
        if role == Qt.ItemDataRole.BackgroundRole and row is None:
            return self._group_bg
        if role == Qt.ItemDataRole.ForegroundRole:
            if col in (COL_TYPE, COL_SHAPE) or (node.leaves() and self._state(node)
                                                  == Qt.CheckState.Unchecked and not node.head):
                return self._grey
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_PARAMS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if node.head:
                return "The head is always trained."
            if row is not None and is_batch_norm(row):
                return ("BatchNormalization layers stay in inference mode (frozen statistics) "
                        "while fine-tuning, as the Keras transfer-learning guide recommends.")
            if row is not None and row.always_frozen:
                return ("Not used by this model (the head pools the backbone's outputs "
                        "itself): it never learns and is not counted as trainable.")
            if row is not None:
                return (f"{row.name} · {row.type} · {row.params:,} parameters · output "
                        f"{row.output_shape}")
        return None

    def _rate_data(self, node: _Node, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rate_text(node)
        if role == Qt.ItemDataRole.EditRole:
            return self._multiplier(node)[0]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and not self._multiplier(node)[1]:
            return self._grey
        if role == Qt.ItemDataRole.FontRole and self._multiplier(node)[1]:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole and self._rate_text(node) is not None:
            return self._rate_tip(node)
        return None

    def setData(self, index: _Index, value: Any,  # noqa: N802, D102
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role == Qt.ItemDataRole.EditRole and index.column() == COL_RATE:
            node = self._node(index)
            return self._rate_editable(node) and self._set_rate(node, value)
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != COL_TRAINABLE:
            return False
        node = self._node(index)
        if not self._checkable(node):
            return False
        state = Qt.CheckState(value) if not isinstance(value, Qt.CheckState) else value
        on = state != Qt.CheckState.Unchecked
        if self._state(node) == Qt.CheckState.PartiallyChecked and \
                state == Qt.CheckState.PartiallyChecked:
            on = True
        for leaf in node.leaves():
            if leaf.row is not None and not is_locked(leaf.row) and leaf.row.in_backbone:
                self._trainable[leaf.row.name] = on
        self._mode = "layers"
        # the node, its ancestors and its descendants change
        self._emit_changed(node)
        cur: _Node | None = node
        while cur is not None and cur is not self._root:
            idx = self.createIndex(cur.index_in_parent(), COL_TRAINABLE, cur)
            self.dataChanged.emit(idx, idx.siblingAtColumn(COL_PARAMS),
                                  [Qt.ItemDataRole.CheckStateRole])
            cur = cur.parent
        self.trainableChanged.emit(self.trainable_params(), self._total)
        self.freezeEdited.emit()
        return True
