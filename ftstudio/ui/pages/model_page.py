"""Model page: the backbone, which of its layers learn, and the head on top.

The model is built by the engine in a worker (backbone cached between builds) whenever the data,
the backbone or the head changes while the page is shown; the layer tree then shows every layer
with a trainable check box. Ticking boxes or the bulk actions only edit the spec's ``freeze``
section and recount the trainable parameters locally: no rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import augment_calls, engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.bridge.types import (
    BackboneChoice,
    DataPreview,
    LibraryEntryInfo,
    ModelDescription,
)
from ftstudio.formatting import format_params
from ftstudio.spec import BackboneSource, ExperimentSpec, FreezeMode
from ftstudio.ui.pages.model_parts import (
    BackboneCard,
    LayersCard,
    has_pretrained_weights,
    model_summary_html,
    same_backbone,
    summary_table,
)
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.augment_preview import AugmentPanel
from ftstudio.ui.widgets.common import PageHeader, debounce_timer, page_layout, side_by_side
from ftstudio.ui.widgets.head_builder import HeadBuilder

__all__ = ["ModelPage"]

LIBRARY_GROUP = "Model library"
NO_BACKBONE = BackboneChoice(label="No backbone — an MLP on the numeric features",
                             source="none", modality="tabular",
                             description="Tabular data: the head layers learn from the "
                                         "numeric columns directly.", group="Tabular")
AUTOMATIC = BackboneChoice(label="Automatic — the bundled model for your data",
                           source="auto", group="Bundled", pretrained=True,
                           description="The engine picks the bundled pretrained backbone that "
                                       "fits your kind of data (offline).")
"""The spec's ``source: auto`` without a name: the engine decides from the data kind."""


class ModelPage(QWidget):
    """Step 2: the model.

    Signals:
        errorRaised(object): an unexpected failure (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
        built(object): a fresh :class:`ModelDescription`.
        weightsImportRequested(str): the user wants to import pretrained weights for this
            architecture into the model library (a weights file).
        weightsDownloadRequested(str): the user wants to download them (network).
    """

    errorRaised = Signal(object)
    statusMessage = Signal(str)
    built = Signal(object)
    weightsImportRequested = Signal(str)
    weightsDownloadRequested = Signal(str)

    def __init__(self, project: Project, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPage")
        self.project = project
        self.jobs = CurrentJobs(runner, self)
        self.bundled_choices: list[BackboneChoice] = []
        self.library_choices: list[BackboneChoice] = []
        self.local_choices: list[BackboneChoice] = []
        self.description: ModelDescription | None = None
        self.build_error: str | None = None
        self._stale = True
        self._updating = False
        self.available_columns: list[str] = []

        self.header = PageHeader(
            "Model", "Pick a backbone (a pretrained one learns from little data), choose which "
                     "of its layers learn, and build the head that makes the predictions.")
        self.rebuild_btn = QPushButton("Rebuild")
        self.rebuild_btn.setToolTip("Build the model again with the current settings")
        self.rebuild_btn.clicked.connect(self.build)
        self.header.action_row.addWidget(self.rebuild_btn)
        self.backbone = BackboneCard()
        self.layers = LayersCard()
        self.head_builder = HeadBuilder()
        lay = page_layout(self, self.header)
        lay.addWidget(self.backbone)
        lay.addWidget(side_by_side(self.layers, self._build_right_tabs(), (3, 2), (580, 480)), 1)

        self._build_timer = debounce_timer(self, 400, self.build)
        self._connect_widgets()
        project.loaded.connect(self.refresh_from_spec)
        project.changed.connect(self._on_project_changed)
        self.refresh_from_spec()

    def _build_right_tabs(self) -> QTabWidget:
        """The Head tab (the head builder, scrolling) and the Summary tab."""
        head_box = QWidget()
        head_lay = QVBoxLayout(head_box)
        head_lay.setContentsMargins(10, 8, 10, 8)
        head_lay.addWidget(self.head_builder)
        head_lay.addStretch(1)
        head_scroll = QScrollArea()
        head_scroll.setWidgetResizable(True)
        head_scroll.setWidget(head_box)
        head_scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.summary = QLabel("")
        self.summary.setObjectName("modelSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.keras_summary_btn = QPushButton("Full layer summary…")
        self.keras_summary_btn.clicked.connect(self.show_full_summary)
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
        self.augment = AugmentPanel()  # image data only (see _show_backbone_fields)
        self.right_tabs.addTab(self.augment, "Augment")
        self.right_tabs.setMinimumWidth(360)
        return self.right_tabs

    def _connect_widgets(self) -> None:
        self.backbone.combo.activated.connect(self._on_backbone_picked)
        self.backbone.browse_btn.clicked.connect(self.choose_local_model)
        self.backbone.seq_len.valueChanged.connect(self._on_seq_len)
        self.backbone.import_weights_btn.clicked.connect(
            lambda: self.weightsImportRequested.emit(self.project.spec.backbone.name or ""))
        self.backbone.download_weights_btn.clicked.connect(
            lambda: self.weightsDownloadRequested.emit(self.project.spec.backbone.name or ""))
        self.layers.tree_model.trainableChanged.connect(self._on_trainable_changed)
        self.layers.tree_model.freezeEdited.connect(self._on_freeze_edited)
        self.layers.ratesEdited.connect(self._on_rates_edited)
        self.layers.loraEdited.connect(self._on_lora_edited)
        self.head_builder.edited.connect(self._on_head_edited)
        self.augment.edited.connect(self._on_augment_edited)
        self.augment.previewRequested.connect(self.preview_augmentation)

    # ============================================================ backbones
    @property
    def choices(self) -> list[BackboneChoice]:
        """Every backbone the picker offers, in picker order."""
        return [AUTOMATIC, *self.bundled_choices, *self.library_choices, NO_BACKBONE,
                *self.local_choices]

    def set_backbones(self, choices: list[BackboneChoice]) -> None:
        """Offer the engine's bundled backbones (called once the engine has loaded)."""
        self.bundled_choices = list(choices)
        self._fill_backbones()
        if self._ensure_backbone_fits():
            self.project.touch("backbone")

    @Slot(list)
    def set_library_entries(self, entries: list[LibraryEntryInfo]) -> None:
        """Offer the model library's entries (``LibraryPage.entriesChanged``).

        Weights imported into the library make a keras.applications backbone pretrained, so
        the bundled list is read again too (once the engine has listed it).
        """
        self.library_choices = [e.backbone_choice() for e in entries]
        self._fill_backbones()
        if self.bundled_choices:
            self.jobs.start("backbones", engine_calls.bundled_backbones,
                            on_result=self.set_backbones, on_error=self.errorRaised.emit,
                            title="Cannot list the backbones")

    def _fill_backbones(self) -> None:
        self._updating = True
        self.backbone.fill(self.choices, self.project.spec)
        self._updating = False
        self._show_backbone_fields()

    def _show_backbone_fields(self) -> None:
        text = self.project.spec.modality == "text"
        self.right_tabs.setTabVisible(self.right_tabs.indexOf(self.augment),
                                      self.project.spec.modality == "image")
        self.backbone.seq_len.setVisible(text)
        self.backbone.seq_label.setVisible(text)
        self.layers.set_bulk_actions_enabled(self.project.spec.backbone.source != "none")
        choice = self.backbone.current_choice()
        desc = choice.description if choice is not None else ""
        if self.description is not None:
            desc = self.description.description + (f" — {desc}" if desc else "")
        self.backbone.description.setText(desc)
        untrained = choice is not None and not has_pretrained_weights(choice)
        self.backbone.show_untrained(choice.label if untrained and choice else None)
        self.project.set_untrained_backbone(choice.label if untrained and choice else None)

    def _ensure_backbone_fits(self) -> bool:
        """Pick a backbone that fits the data kind when the current one does not."""
        spec = self.project.spec
        modality = spec.modality
        b = spec.backbone
        if not (spec.data.path or spec.data.image_dir):
            return False
        if modality == "tabular":
            if b.source != "none":
                b.source, b.name, b.path = "none", None, None
                self._fill_backbones()
                return True
            return False
        current = next((c for c in self.choices if same_backbone(c, b.source, b.name, b.path)),
                       None)
        fits = b.source != "none" and (current is None or not current.modality
                                       or current.modality == modality)
        if fits:
            return False
        pick = next((c for c in self.bundled_choices if c.modality == modality and
                     c.group == AUTOMATIC.group), None) or \
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
        b.weights = choice.weights
        b.submodel = b.cut_layer = None
        b.image_size = None
        b.preprocessing = "auto"

    @Slot(int)
    def _on_backbone_picked(self, index: int) -> None:
        if self._updating:
            return
        choice = self.backbone.combo.itemData(index)
        if not isinstance(choice, BackboneChoice):
            return
        before = self._effective_backbone()
        self._apply_choice(choice)
        if self._effective_backbone() == before:
            # the same model under another name ("Automatic" is MiniLM for text): keep the
            # layer choices and the built model
            self._show_backbone_fields()
            self.project.touch("backbone")
            return
        f = self.project.spec.freeze
        if f.mode == "layers" and f.layers:
            self.statusMessage.emit("The layer choices were reset: the new backbone has "
                                    "other layers.")
        f.layers = {}
        f.lr_multipliers = {}  # block names of the old backbone
        self.layers.show_rates(self.project.spec)
        if f.mode == "layers":
            f.mode = "none"
        self.layers.tree_model.clear()
        self.description = None
        self._show_backbone_fields()
        self.project.touch("backbone")

    def _effective_backbone(self) -> tuple[str, str]:
        """Which model the spec's backbone is, whatever it is called.

        ``source: auto`` without a name is the bundled default for the data kind.
        """
        b = self.project.spec.backbone
        if b.source == "auto" and not (b.name or b.path):
            default = next((c for c in self.bundled_choices if c.modality ==
                            self.project.spec.modality and c.group == AUTOMATIC.group), None)
            if default is not None:
                return "auto", (default.name or "").lower()
        if b.source == "auto" and b.name:
            return "auto", b.name.lower()
        return b.source, (b.name or "").lower() if b.name else str(b.path or "")

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
                                path=str(p), description=str(p), group="Local",
                                pretrained=True)
        self.local_choices = [choice]
        self._apply_choice(choice)
        self._fill_backbones()
        self.layers.tree_model.clear()
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
            if self._ensure_backbone_fits():
                self.project.touch("backbone")
                return
            self._fill_backbones()
            self._show_head()
        if section in ("data", "backbone", "head"):
            self._stale = True
            # a failed build says nothing about the changed model until it is built again
            self.project.set_blocker("model", None)
            self._update_summary()
            if self.isVisible():
                self._build_timer.start()

    @Slot(object)
    def set_preview(self, preview: DataPreview) -> None:
        """Take the columns of newly previewed data (for the outputs' label columns)."""
        self.available_columns = [c.name for c in preview.columns] \
            if preview.kind == "csv" else []
        self._show_head()

    def _show_head(self) -> None:
        """Edit the spec's head, offering the columns that are not inputs as labels."""
        spec = self.project.spec
        inputs = {spec.data.text_column, *(spec.data.feature_columns or [])}
        columns = [c for c in self.available_columns if c not in inputs]
        self.head_builder.set_head(spec.head, columns, spec.modality)

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
            self.layers.build_state.setText("Open some data first: the outputs take their "
                                            "size from the labels.")
            return
        try:
            spec.validate()
        except Exception as exc:  # noqa: BLE001 - shown in place
            self.layers.build_state.setText(f"Cannot build yet: {exc}")
            return
        sizes = self._output_sizes(spec)
        self._stale = False
        self.layers.show_build_state("Building the model… (the first build of a backbone "
                                     "takes a few seconds)")
        self.statusMessage.emit("Building the model…")
        self.jobs.start("build", engine_calls.describe_model, spec, sizes,
                        on_result=self._on_built, on_error=self._on_build_failed,
                        title="Cannot build the model")

    def _output_sizes(self, spec: ExperimentSpec) -> dict[str, int] | None:
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

    def _on_built(self, desc: ModelDescription) -> None:
        self.description = desc
        self.build_error = None
        self.project.set_blocker("model", None)
        f = self.project.spec.freeze
        self.layers.show_built(desc, f.mode, f.last_n)
        self._show_backbone_fields()
        self._update_summary()
        self.statusMessage.emit(f"Model built: {format_params(desc.total_params)} parameters")
        self.built.emit(desc)

    def _on_build_failed(self, info: ErrorInfo) -> None:
        self.build_error = info.message
        self.project.set_blocker("model", f"The model cannot be built: "
                                          f"{info.message.splitlines()[0]} (see the Model page)")
        self.layers.show_build_state(f"Cannot build the model: {info.message}")
        self.layers.tree_model.clear()
        if not info.user_error:
            self.errorRaised.emit(info)

    # ============================================================== freezing
    @Slot()
    def _on_freeze_edited(self) -> None:
        mode, last_n, layers = self.layers.tree_model.freeze_settings()
        f = self.project.spec.freeze
        f.mode, f.last_n, f.layers = cast(FreezeMode, mode), last_n, layers
        self.project.touch("freeze")
        self._update_summary()

    @Slot()
    def _on_rates_edited(self) -> None:
        f = self.project.spec.freeze
        f.layer_decay, f.gradual_unfreeze_epochs, f.lr_multipliers = self.layers.rate_settings()
        self.project.touch("freeze")
        self._update_summary()

    @Slot(int)
    def _on_lora_edited(self, rank: int) -> None:
        self.project.spec.backbone.lora_rank = int(rank)
        self.project.touch("backbone")

    @Slot(int, int)
    def _on_trainable_changed(self, trainable: int, total: int) -> None:
        self.layers.show_trainable(trainable, total)
        if total > 0:
            self._update_summary()

    # ================================================================ head
    @Slot()
    def _on_head_edited(self) -> None:
        self.project.touch("head")

    # ========================================================= augmentation
    @Slot()
    def _on_augment_edited(self) -> None:
        self.augment.store(self.project.spec.augment)
        self.project.touch("augment")

    @Slot()
    def preview_augmentation(self) -> None:
        """Augment a few training images in a worker and show them."""
        self.augment.show_busy()
        self.jobs.start("augment", augment_calls.augment_preview, self.project.spec_copy(),
                        on_result=self.augment.show_preview, on_error=self._on_augment_failed,
                        title="Cannot preview the augmentation")

    def _on_augment_failed(self, info: ErrorInfo) -> None:
        self.augment.show_failure(info.message)
        if not info.user_error:
            self.errorRaised.emit(info)

    # ============================================================== summary
    def _update_summary(self) -> None:
        self.summary.setText(model_summary_html(
            self.project.spec, self.backbone.combo.currentText(),
            self.head_builder.summary_lines(), self.description,
            self.layers.trainable_count()))

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
        self.backbone.seq_len.setValue(spec.backbone.sequence_length)
        self.layers.last_n.setValue(spec.freeze.last_n)
        self.layers.show_rates(spec)
        self.augment.load(spec.augment)
        self._updating = False
        self.description = None
        self.layers.tree_model.clear()
        self._fill_backbones()
        self._show_head()
        self._stale = True
        self._update_summary()
        if self.isVisible():
            self._build_timer.start()
