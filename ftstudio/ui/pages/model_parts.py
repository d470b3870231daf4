"""Parts of the Model page: the backbone picker, the layer tree card and the model summary.

The parts show what the page gives them; the page owns the spec, the choices and the builds.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.types import BackboneChoice, ModelDescription
from ftstudio.formatting import format_params
from ftstudio.spec import ExperimentSpec, FreezeMode
from ftstudio.ui.widgets.common import Card
from ftstudio.ui.widgets.flow_layout import FlowLayout
from ftstudio.ui.widgets.layer_tree import (
    COL_NAME,
    COL_PARAMS,
    COL_RATE,
    COL_SHAPE,
    COL_TRAINABLE,
    COL_TYPE,
    COLUMNS,
    LayerTreeModel,
)

__all__ = ["FREEZE_SUMMARIES", "UNTRAINED_SUFFIX", "BackboneCard", "LayersCard",
           "has_pretrained_weights", "model_summary_html", "rate_summary", "same_backbone",
           "summary_table"]

FREEZE_SUMMARIES: dict[FreezeMode, str] = {
    "all": "frozen", "none": "fully fine-tuned", "last_n": "top {last_n} blocks fine-tuned",
    "layers": "chosen layers fine-tuned"}
"""How the summary says what a freeze mode does to the backbone."""


NARROW_TREE = (600, 440)
"""Below these widths the layer tree leaves out its Type, then its Output shape column."""
UNTRAINED_SUFFIX = " — not pretrained (random weights)"
"""Added to the picker's label of a backbone that has no pretrained weights here."""


def has_pretrained_weights(choice: BackboneChoice) -> bool:
    """Whether a backbone starts from learned weights (no backbone at all counts as yes).

    Only a keras.applications architecture can be built without weights (random ones): the
    picker's entry says whether its ImageNet weights are on this computer (``pretrained``),
    a spec may ask for them (``weights``). Local files and folders, library entries and the
    bundled models bring their own weights.
    """
    return not (choice.source == "applications" and not choice.pretrained
                and not choice.weights)


def same_backbone(choice: BackboneChoice, source: str, name: str | None,
                  path: str | None) -> bool:
    """Whether a picker entry is the spec's current backbone."""
    if choice.source == "none" or source == "none":
        return choice.source == source
    if not (choice.name or choice.path):
        return choice.source == source and not (name or path)
    if choice.name and name:
        return choice.name.lower() == name.lower()
    if choice.path and path:
        return Path(choice.path) == Path(path)
    return False


class BackboneCard(Card):
    """The backbone picker (grouped, entries that do not fit the data greyed out)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Backbone", parent)
        self.combo = QComboBox()
        self.combo.setObjectName("backboneCombo")
        self.combo.setMinimumWidth(260)
        self.browse_btn = QPushButton("Local model…")
        self.browse_btn.setToolTip("A .keras / .h5 model file, or a keras-hub / Hugging Face "
                                   "model folder")
        self.seq_len = QSpinBox()
        self.seq_len.setRange(8, 4096)
        self.seq_len.setSingleStep(16)
        self.seq_len.setToolTip("Tokens per text (longer texts are cut)")
        self.seq_label = QLabel("Tokens")
        self.description = QLabel("")
        self.description.setObjectName("muted")
        self.description.setWordWrap(True)
        self._build_untrained_box()
        row = QHBoxLayout()
        row.addWidget(self.combo, 3)
        row.addWidget(self.browse_btn)
        row.addSpacing(12)
        row.addWidget(self.seq_label)
        row.addWidget(self.seq_len)
        self.body.addLayout(row)
        self.body.addWidget(self.description)
        self.body.addWidget(self.untrained_box)

    def _build_untrained_box(self) -> None:
        """The warning (and its remedies) shown while the backbone has no pretrained weights."""
        self.untrained_box = QFrame()
        self.untrained_box.setObjectName("warningList")
        self.untrained_box.setProperty("error", True)
        self.untrained_text = QLabel("")
        self.untrained_text.setWordWrap(True)
        self.import_weights_btn = QPushButton("Import weights file…")
        self.import_weights_btn.setToolTip("Add a keras.applications ImageNet weights file "
                                           "(.h5) to the model library")
        self.download_weights_btn = QPushButton("Download weights (network)…")
        self.download_weights_btn.setToolTip("Download the ImageNet weights into the model "
                                             "library (needs the internet)")
        buttons = FlowLayout(spacing=6)
        buttons.addWidget(self.import_weights_btn)
        buttons.addWidget(self.download_weights_btn)
        lay = QVBoxLayout(self.untrained_box)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.untrained_text)
        lay.addLayout(buttons)
        self.untrained_box.hide()

    def show_untrained(self, label: str | None) -> None:
        """Warn that backbone ``label`` has no pretrained weights (``None`` hides it)."""
        if label:
            self.untrained_text.setText(
                f"<b>{html.escape(label)} is not pretrained here:</b> its weights are not on "
                f"this computer, so it would start from random weights and need far more "
                f"data. Import its ImageNet weights file, or download them when online.")
        self.untrained_box.setVisible(bool(label))

    def fill(self, choices: list[BackboneChoice], spec: ExperimentSpec) -> None:
        """List ``choices`` by group and select the spec's backbone.

        A backbone the spec names that no choice matches is listed first ("This project").
        """
        modality = spec.modality
        b = spec.backbone
        combo = self.combo
        combo.clear()
        entries = list(choices)
        if not any(same_backbone(c, b.source, b.name, b.path) for c in entries) and \
                (b.name or b.path):
            entries.insert(0, BackboneChoice(
                label=b.name or Path(str(b.path)).name, source=b.source, name=b.name,
                path=b.path, description=b.path or b.name or "", group="This project"))
        current = -1
        group = None
        for choice in entries:
            if choice.group != group:
                group = choice.group
                self._add_group_title(group)
            fits = not choice.modality or choice.modality == modality or (
                modality == "tabular" and choice.source == "none")
            label = choice.label if has_pretrained_weights(choice) \
                else choice.label + UNTRAINED_SUFFIX
            combo.addItem(label, choice)
            idx = combo.count() - 1
            combo.setItemData(idx, choice.description, Qt.ItemDataRole.ToolTipRole)
            if not fits:
                combo.model().item(idx).setEnabled(False)  # type: ignore[attr-defined]
            if same_backbone(choice, b.source, b.name, b.path):
                current = idx
        if current >= 0:
            combo.setCurrentIndex(current)

    def _add_group_title(self, group: str) -> None:
        combo = self.combo
        if combo.count():
            combo.insertSeparator(combo.count())
        combo.addItem(f"— {group} —")
        item = combo.model().item(combo.count() - 1)  # type: ignore[attr-defined]
        item.setEnabled(False)

    def current_choice(self) -> BackboneChoice | None:
        """The picked entry (None on a group title)."""
        choice = self.combo.currentData()
        return choice if isinstance(choice, BackboneChoice) else None


class LayersCard(Card):
    """The layer tree with its trainable boxes, bulk freeze actions, a filter and the count.

    Below the freeze actions: layer-wise learning-rate decay, gradual unfreezing and the LoRA
    rank (the spec's ``freeze.layer_decay``, ``freeze.gradual_unfreeze_epochs`` and
    ``backbone.lora_rank``); the tree's "LR ×" column edits per-block multipliers.

    Signals:
        ratesEdited(): layer decay, gradual unfreezing or a multiplier changed.
        loraEdited(int): the LoRA rank changed (the model must be built again).
    """

    ratesEdited = Signal()
    loraEdited = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Layers", parent)
        self._lora_trainable: int | None = None
        self.tree_model = LayerTreeModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.tree_model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(COL_NAME)
        self._build_tree()
        tools = self._build_tools()
        self.trainable_label = QLabel("")
        self.trainable_label.setObjectName("trainableCount")
        self.trainable_label.setWordWrap(True)
        self.build_state = QLabel("")
        self.build_state.setObjectName("muted")
        self.build_state.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter layers…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(170)
        bottom = QHBoxLayout()
        bottom.addWidget(self.trainable_label, 1)
        bottom.addWidget(self.filter_edit)
        self.body.addLayout(tools)
        self.body.addLayout(self._build_rates())
        self.body.addWidget(self.build_state)
        self.body.addWidget(self.tree, 1)
        self.body.addLayout(bottom)
        self.freeze_all_btn.clicked.connect(self.tree_model.freeze_all)
        self.unfreeze_all_btn.clicked.connect(self.tree_model.unfreeze_all)
        self.unfreeze_last_btn.clicked.connect(self._unfreeze_last)
        self.filter_edit.textChanged.connect(self._on_filter)
        self.tree_model.ratesEdited.connect(self.ratesEdited)
        self.layer_decay.valueChanged.connect(self._on_rates)
        self.gradual.valueChanged.connect(self._on_rates)
        self.lora_rank.valueChanged.connect(self.loraEdited)

    def _build_tree(self) -> None:
        self.tree = QTreeView()
        self.tree.setObjectName("layerTree")
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(14)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "transf…layer_3"
        self.tree.setAlternatingRowColors(True)
        hh = self.tree.header()
        hh.setStretchLastSection(False)
        hh.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        bold = QFont(hh.font())
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        for col, width in ((COL_TRAINABLE, 76), (COL_TYPE, 104), (COL_SHAPE, 96),
                           (COL_PARAMS, 66), (COL_RATE, 52)):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            # never narrower than the column's (bold) title: no "Trainabl…"
            title = metrics.horizontalAdvance(str(COLUMNS[col])) + 28
            self.tree.setColumnWidth(col, max(width, title))
        self.tree.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802, D102
        if watched is self.tree and event.type() == QEvent.Type.Resize:
            self._fit_columns(self.tree.width())
        return super().eventFilter(watched, event)

    def _fit_columns(self, width: int) -> None:
        """In a narrow tree, leave out the columns the tooltips repeat (type, then shape)."""
        self.tree.setColumnHidden(COL_TYPE, width < NARROW_TREE[0])
        self.tree.setColumnHidden(COL_SHAPE, width < NARROW_TREE[1])

    def _build_tools(self) -> FlowLayout:
        self.freeze_all_btn = QPushButton("Freeze all")
        self.freeze_all_btn.setToolTip("Train only the head (a linear probe): fastest, needs "
                                       "least data")
        self.unfreeze_all_btn = QPushButton("Unfreeze all")
        self.unfreeze_all_btn.setToolTip("Fine-tune every layer (use a small learning rate)")
        self.last_n = QSpinBox()
        self.last_n.setRange(0, 999)
        self.last_n.setValue(2)
        self.last_n.setPrefix("last ")
        self.last_n.setSuffix(" blocks")
        self.unfreeze_last_btn = QPushButton("Unfreeze")
        self.unfreeze_last_btn.setToolTip("Fine-tune only the top blocks of the backbone")
        # "Unfreeze" and its block count stay together when the row wraps
        last = QWidget()
        last_row = QHBoxLayout(last)
        last_row.setContentsMargins(0, 0, 0, 0)
        last_row.setSpacing(6)
        last_row.addWidget(self.unfreeze_last_btn)
        last_row.addWidget(self.last_n)
        tools = FlowLayout(spacing=6)
        tools.addWidget(self.freeze_all_btn)
        tools.addWidget(self.unfreeze_all_btn)
        tools.addWidget(last)
        return tools

    def _build_rates(self) -> FlowLayout:
        """Layer decay, gradual unfreezing and LoRA, each a label with its spin box."""
        self.layer_decay = QDoubleSpinBox()
        self.layer_decay.setRange(0.05, 1.0)
        self.layer_decay.setSingleStep(0.05)
        self.layer_decay.setToolTip("Layer-wise learning-rate decay: the top block learns at "
                                    "this factor, each block below at one more power of it "
                                    "(1 = off; 0.8 is usual for transformers)")
        self.gradual = QSpinBox()
        self.gradual.setRange(0, 50)
        self.gradual.setSpecialValueText("off")
        self.gradual.setToolTip("Gradual unfreezing: train the head alone, then let one more "
                                "block from the top learn every this many epochs")
        self.lora_rank = QSpinBox()
        self.lora_rank.setRange(0, 256)
        self.lora_rank.setSpecialValueText("off")
        self.lora_rank.setToolTip("LoRA adapters of this rank on a keras-hub backbone's "
                                  "attention: only the small adapters (and the head) learn")
        rates = FlowLayout(spacing=6)
        for text, box in (("Layer decay", self.layer_decay),
                          ("Gradual unfreezing, epochs per block", self.gradual),
                          ("LoRA rank", self.lora_rank)):
            pair = QWidget()
            row = QHBoxLayout(pair)
            row.setContentsMargins(0, 0, 8, 0)
            row.setSpacing(4)
            row.addWidget(QLabel(text))
            row.addWidget(box)
            rates.addWidget(pair)
        return rates

    def show_rates(self, spec: ExperimentSpec) -> None:
        """Show the spec's rate settings and LoRA rank (no signal)."""
        for box in (self.layer_decay, self.gradual, self.lora_rank):
            box.blockSignals(True)
        self.layer_decay.setValue(spec.freeze.layer_decay)
        self.gradual.setValue(spec.freeze.gradual_unfreeze_epochs)
        self.lora_rank.setValue(spec.backbone.lora_rank)
        for box in (self.layer_decay, self.gradual, self.lora_rank):
            box.blockSignals(False)
        self.tree_model.set_rates(spec.freeze.lr_multipliers, spec.freeze.layer_decay)

    def rate_settings(self) -> tuple[float, int, dict[str, float]]:
        """``(layer decay, gradual-unfreeze epochs, multipliers)`` as the user set them."""
        return (round(self.layer_decay.value(), 4), self.gradual.value(),
                self.tree_model.rate_multipliers())

    @Slot()
    def _on_rates(self) -> None:
        self.tree_model.set_rates(self.tree_model.rate_multipliers(), self.layer_decay.value())
        self.ratesEdited.emit()

    def set_bulk_actions_enabled(self, enabled: bool) -> None:
        """Enable the freeze buttons (there is nothing to freeze without a backbone)."""
        for w in (self.freeze_all_btn, self.unfreeze_all_btn, self.unfreeze_last_btn,
                  self.last_n):
            w.setEnabled(enabled)

    def show_built(self, desc: ModelDescription, mode: str, last_n: int) -> None:
        """Show a freshly built model's layers under the spec's freeze settings."""
        # with LoRA only the adapters learn: the engine's count, not the ticked layers' sizes
        self._lora_trainable = desc.trainable_params if self.lora_rank.value() else None
        self.tree_model.set_layers(desc.layers, desc.blocks, desc.total_params)
        self.tree_model.set_mode(mode, last_n)
        n_blocks = len(desc.blocks)
        self.last_n.setMaximum(max(0, n_blocks))
        self.last_n.setValue(min(n_blocks, last_n if mode == "last_n" else max(1, last_n)))
        self.tree.expandToDepth(0)
        self.build_state.setVisible(False)

    def show_build_state(self, text: str) -> None:
        """Say why there is no model (yet) above the tree."""
        self.build_state.setText(text)
        self.build_state.setVisible(True)

    def trainable_count(self) -> int:
        """Trainable parameters: the ticked layers', or with LoRA the built model's."""
        if self._lora_trainable is not None:
            return self._lora_trainable
        return self.tree_model.trainable_params()

    def show_trainable(self, trainable: int, total: int) -> None:
        """Show the trainable share of the parameters."""
        if total <= 0:
            self.trainable_label.setText("")
            return
        lora = self._lora_trainable is not None
        trainable = self.trainable_count()
        share = 100.0 * trainable / total
        self.trainable_label.setText(
            f"<b>{trainable:,}</b> of {total:,} parameters trainable ({share:.1f} %)"
            + (" — LoRA: the adapters of the ticked blocks, and the head" if lora else ""))

    @Slot()
    def _unfreeze_last(self) -> None:
        self.tree_model.unfreeze_last(self.last_n.value())

    @Slot(str)
    def _on_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        if text:
            self.tree.expandAll()


def model_summary_html(spec: ExperimentSpec, backbone_label: str, head_lines: list[str],
                       desc: ModelDescription | None, trainable: int) -> str:
    """The Summary tab: input, backbone and freezing, pooling, head, outputs, parameters.

    Args:
        spec: the experiment.
        backbone_label: what the picker shows for the backbone.
        head_lines: the head's layers in a few words each.
        desc: the built model, if it was built.
        trainable: trainable parameters under the current freeze settings.
    """
    parts = []
    inp = {"text": f"text ({spec.backbone.sequence_length} tokens)", "image": "image",
           "tabular": f"{len(spec.data.feature_columns or [])} numeric features"}[spec.modality]
    parts.append(f"<b>Input</b> {inp}")
    if spec.backbone.source != "none":
        label = backbone_label or (spec.backbone.name or "backbone")
        freeze = FREEZE_SUMMARIES[spec.freeze.mode].format(last_n=spec.freeze.last_n)
        parts.append(f"<b>Backbone</b> {label} — {freeze}")
        rates = rate_summary(spec)
        if rates:
            parts.append(f"<b>Learning rates</b> {rates}")
        parts.append(f"<b>Pooling</b> {spec.head.pooling}")
    parts.append("<b>Head</b> " + (" → ".join(head_lines) if head_lines else "none (linear)"))
    sizes = desc.output_sizes if desc else {}
    outs = []
    for out, col in zip(spec.head.outputs, spec.label_columns(), strict=True):
        n = sizes.get(out.name)
        what = (f"{n} classes" if n else "classes") if out.task == "classification" \
            else "a number"
        source = "the class folders" if spec.modality == "image" else f"'{col}'"
        outs.append(f"{out.name} ← {source} ({what})")
    parts.append("<b>Outputs</b> " + "; ".join(outs))
    if desc is not None:
        parts.append(f"<b>Parameters</b> {format_params(desc.total_params)} "
                     f"total, {format_params(trainable)} trainable")
    return "<br>".join(parts)


def rate_summary(spec: ExperimentSpec) -> str:
    """Layer decay, multipliers, gradual unfreezing and LoRA in a few words ("" when off)."""
    f = spec.freeze
    parts = []
    if f.layer_decay != 1.0:
        parts.append(f"layer decay {f.layer_decay:g}")
    if f.lr_multipliers:
        parts.append(", ".join(f"{html.escape(k)} ×{v:g}" for k, v in f.lr_multipliers.items()))
    if f.gradual_unfreeze_epochs:
        n = f.gradual_unfreeze_epochs
        parts.append(f"one more block every {n} epoch{'s' if n > 1 else ''}")
    if spec.backbone.lora_rank:
        parts.append(f"LoRA rank {spec.backbone.lora_rank} (only the adapters learn)")
    return "; ".join(parts)


def summary_table(desc: ModelDescription | None) -> str:
    """Return a fixed-width table of the layers (what ``model.summary()`` prints)."""
    if desc is None:
        return "The model has not been built yet."
    lines = [f"{'Layer':<44} {'Type':<26} {'Output shape':<24} {'Params':>12}  Trainable",
             "-" * 120]
    for row in desc.layers:
        name = ("  " * row.depth + row.name)[:44]
        lines.append(f"{name:<44} {row.type[:26]:<26} {row.output_shape[:24]:<24} "
                     f"{row.params:>12,}  {'yes' if row.trainable else 'no'}")
    lines.append("-" * 120)
    lines.append(f"Total parameters: {desc.total_params:,}   trainable (as built): "
                 f"{desc.trainable_params:,}")
    return "\n".join(lines)
