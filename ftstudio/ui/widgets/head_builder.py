"""The head builder: the layers between the pooled backbone features and the outputs.

Edits a :class:`~ftstudio.spec.HeadSpec` in place: pooling, input dropout, a list of layers
(dense with units / activation / L1 / L2, dropout with its rate, batch normalisation) that can
be added, removed and reordered, and one or several outputs (multi-task), each bound to a label
column with its task, activation and loss weight.
"""

from __future__ import annotations

import dataclasses
from typing import cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.spec import (
    HeadSpec,
    LayerSpec,
    LayerType,
    OutputActivation,
    OutputSpec,
)
from ftstudio.ui.choices import fitting_activation, spec_values
from ftstudio.ui.widgets.flow_layout import FlowLayout
from ftstudio.ui.widgets.head_choices import (
    ACTIVATIONS,
    DATA_LABEL,
    LAYER_BUTTONS,
    LAYER_DEFAULTS,
    OUTPUT_ACTIVATIONS,
    POOLINGS,
    TASKS,
    describe_layer,
)

__all__ = ["HeadBuilder"]

def _pair(label: str, field: QWidget) -> QWidget:
    """A label and its field side by side, as one widget (for a wrapping row)."""
    pair = QWidget()
    row = QHBoxLayout(pair)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(6)
    row.addWidget(QLabel(label))
    row.addWidget(field, 1)
    return pair


class HeadBuilder(QWidget):
    """Edits a HeadSpec; emits :attr:`edited` after every change.

    Signals:
        edited(): the head changed (the model needs a rebuild).
    """

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.head = HeadSpec()
        self.columns: list[str] = []
        self._updating = False

        top = self._build_top_row()
        buttons = self._build_layer_list()
        self._build_editor()
        out_buttons = self._build_outputs_table()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        lay.addLayout(top)
        title = QLabel("Layers")
        title.setObjectName("sectionTitle")
        lay.addWidget(title)
        lay.addWidget(self.layer_list)
        lay.addLayout(buttons)
        lay.addWidget(self.editor)
        title2 = QLabel("Outputs")
        title2.setObjectName("sectionTitle")
        lay.addWidget(title2)
        lay.addWidget(self.outputs)
        lay.addLayout(out_buttons)
        self._connect_edits()

    def _build_top_row(self) -> FlowLayout:
        self.pooling = QComboBox()
        self.pooling.setToolTip("How the backbone's output becomes one feature vector")
        self.pooling.setMinimumContentsLength(8)
        self.input_dropout = QDoubleSpinBox()
        self.input_dropout.setRange(0.0, 0.9)
        self.input_dropout.setSingleStep(0.05)
        self.input_dropout.setToolTip("Dropout on the pooled features, before the head layers")
        # two label + field pairs that wrap onto two lines in a narrow column
        top = FlowLayout(spacing=12)
        top.addWidget(_pair("Pooling", self.pooling))
        top.addWidget(_pair("Input dropout", self.input_dropout))
        return top

    def _build_layer_list(self) -> FlowLayout:
        self.layer_list = QListWidget()
        self.layer_list.setObjectName("headLayers")
        self.layer_list.setMinimumHeight(70)
        self.layer_list.setMaximumHeight(104)
        self.add_buttons: dict[str, QPushButton] = {}
        for layer_type in spec_values(LayerType):
            button = QPushButton(LAYER_BUTTONS.get(layer_type, f"+ {layer_type}"))
            button.setProperty("layerType", layer_type)
            self.add_buttons[layer_type] = button
        self.up_btn = QToolButton()
        self.up_btn.setText("↑")
        self.up_btn.setToolTip("Move the layer up")
        self.down_btn = QToolButton()
        self.down_btn.setText("↓")
        self.down_btn.setToolTip("Move the layer down")
        self.remove_btn = QToolButton()
        self.remove_btn.setText("✕")
        self.remove_btn.setToolTip("Remove the layer")
        tools = QWidget()
        tools_row = QHBoxLayout(tools)
        tools_row.setContentsMargins(0, 0, 0, 0)
        tools_row.setSpacing(4)
        for tool in (self.up_btn, self.down_btn, self.remove_btn):
            tools_row.addWidget(tool)
        buttons = FlowLayout(spacing=4)
        for button in self.add_buttons.values():
            buttons.addWidget(button)
        buttons.addWidget(tools)
        return buttons

    def _build_editor(self) -> None:
        """The editor of the selected layer: one stacked page per layer type."""
        self.units = QSpinBox()
        self.units.setRange(1, 65536)
        self.activation = QComboBox()
        self.activation.addItems(ACTIVATIONS)
        self.activation.setEditable(True)
        self.l1 = QDoubleSpinBox()
        self.l1.setDecimals(5)
        self.l1.setRange(0, 1)
        self.l1.setSingleStep(1e-4)
        self.l2 = QDoubleSpinBox()
        self.l2.setDecimals(5)
        self.l2.setRange(0, 1)
        self.l2.setSingleStep(1e-4)
        self.activation.setMinimumContentsLength(6)
        self.activation.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        # one field a row: the head builder sits in a narrow column on small screens
        dense = QWidget()
        dense_form = QFormLayout(dense)
        dense_form.setContentsMargins(0, 0, 0, 0)
        dense_form.setVerticalSpacing(4)
        for text, field in (("Units", self.units), ("Activation", self.activation),
                            ("L1 penalty", self.l1), ("L2 penalty", self.l2)):
            dense_form.addRow(text, field)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.0, 0.95)
        self.rate.setSingleStep(0.05)
        dropout = QWidget()
        dropout_form = QFormLayout(dropout)
        dropout_form.setContentsMargins(0, 0, 0, 0)
        dropout_form.addRow("Rate", self.rate)
        bn = QLabel("Batch normalization has no settings.")
        bn.setObjectName("muted")
        empty = QLabel("Add layers to make the head deeper, or keep it linear: the outputs sit "
                       "right on the pooled features.")
        empty.setObjectName("muted")
        empty.setWordWrap(True)
        self.editor = QStackedWidget()
        for w in (empty, dense, dropout, bn):
            self.editor.addWidget(w)
        self.editor.setFixedHeight(dense.sizeHint().height())

    def _build_outputs_table(self) -> QHBoxLayout:
        self.outputs = QTableWidget(0, 5)
        self.outputs.setObjectName("headOutputs")
        self.outputs.setHorizontalHeaderLabels(["Output", "Label", "Task", "Activ.", "Weight"])
        for col, tip in enumerate(("Output name (a key of the model's outputs)",
                                   "The label column this output learns",
                                   "classes = classification, number = regression",
                                   "Output activation (auto: softmax for classes, linear for "
                                   "numbers)", "Loss weight (multi-task)")):
            header_item = self.outputs.horizontalHeaderItem(col)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.outputs.verticalHeader().setVisible(False)
        self.outputs.verticalHeader().setDefaultSectionSize(30)
        self.outputs.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.outputs.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.outputs.horizontalHeader()
        # the label column takes the spare width; the others keep a width that shows their
        # header and their widest choice (the table has no horizontal scroll bar)
        hh.setStretchLastSection(False)
        hh.setMinimumSectionSize(56)
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 64), (2, 96), (3, 80), (4, 68)):
            self.outputs.setColumnWidth(col, width)
        # in a narrow column the table scrolls sideways rather than hiding its last columns
        self.outputs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.outputs.setMinimumHeight(70)
        self.outputs.setMaximumHeight(130)
        self.add_output_btn = QPushButton("+ Output")
        self.add_output_btn.setToolTip("Add an output (multi-task): another label column")
        self.remove_output_btn = QPushButton("Remove output")
        out_buttons = QHBoxLayout()
        out_buttons.addWidget(self.add_output_btn)
        out_buttons.addWidget(self.remove_output_btn)
        out_buttons.addStretch(1)
        return out_buttons

    def _connect_edits(self) -> None:
        for button in self.add_buttons.values():
            button.clicked.connect(self._on_add_clicked)
        self.up_btn.clicked.connect(self.move_up)
        self.down_btn.clicked.connect(self.move_down)
        self.remove_btn.clicked.connect(self.remove_layer)
        self.layer_list.currentRowChanged.connect(self._show_editor)
        for w in (self.units, self.l1, self.l2, self.rate, self.input_dropout):
            w.valueChanged.connect(self._on_layer_edited)
        self.activation.currentTextChanged.connect(self._on_layer_edited)
        self.pooling.currentTextChanged.connect(self._on_pooling_edited)
        self.add_output_btn.clicked.connect(self.add_output)
        self.remove_output_btn.clicked.connect(self.remove_output)

    # ------------------------------------------------------------- loading
    def set_head(self, head: HeadSpec, columns: list[str], modality: str) -> None:
        """Edit ``head`` (in place); ``columns`` are the label columns to offer."""
        self.head = head
        self.columns = list(columns)
        self._updating = True
        try:
            self.pooling.clear()
            options = POOLINGS.get(modality, POOLINGS[""])
            self.pooling.addItems(options if head.pooling in options else
                                  [*options, head.pooling])
            self.pooling.setCurrentText(head.pooling)
            self.pooling.setEnabled(modality != "tabular")
            self.input_dropout.setValue(head.dropout)
            self._fill_layers()
            self._fill_outputs()
        finally:
            self._updating = False

    def _fill_layers(self, select: int | None = None) -> None:
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for i, layer in enumerate(self.head.layers):
            item = QListWidgetItem(f"{i + 1}.  {describe_layer(layer)}")
            self.layer_list.addItem(item)
        self.layer_list.blockSignals(False)
        if select is not None and 0 <= select < len(self.head.layers):
            self.layer_list.setCurrentRow(select)
        self._show_editor(self.layer_list.currentRow())

    def _fill_outputs(self) -> None:
        self.outputs.setRowCount(0)
        for i, out in enumerate(self.head.outputs):
            self.outputs.insertRow(i)
            name = QLineEdit(out.name)
            name.setFrame(False)
            name.editingFinished.connect(self._on_outputs_edited)
            label = QComboBox()
            label.addItem(DATA_LABEL)
            label.addItems(self.columns)
            label.setCurrentText(out.label_column or DATA_LABEL)
            label.setToolTip("The label column this output learns; (default) is the data "
                             "page's label column")
            label.currentTextChanged.connect(self._on_outputs_edited)
            task = QComboBox()
            for text, value in TASKS:
                task.addItem(text, value)
            task.setCurrentIndex(max(0, task.findData(out.task)))
            task.setToolTip("classes: classification; number: regression")
            task.currentTextChanged.connect(self._on_outputs_edited)
            act = QComboBox()
            act.addItems(OUTPUT_ACTIVATIONS)
            act.setCurrentText(out.activation)
            act.currentTextChanged.connect(self._on_outputs_edited)
            weight = QLineEdit(f"{out.loss_weight:g}")
            weight.setFrame(False)
            validator = QDoubleValidator(0.0, 1000.0, 4, weight)
            validator.setNotation(QDoubleValidator.Notation.StandardNotation)
            weight.setValidator(validator)
            weight.setToolTip("Loss weight of this output (multi-task)")
            weight.editingFinished.connect(self._on_outputs_edited)
            for col, w in enumerate((name, label, task, act, weight)):
                self.outputs.setCellWidget(i, col, w)
        self.remove_output_btn.setEnabled(len(self.head.outputs) > 1)

    # --------------------------------------------------------------- layers
    @Slot()
    def _on_add_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton):
            self.add_layer(str(button.property("layerType")))

    def add_layer(self, layer_type: str) -> None:
        """Insert a layer of ``layer_type`` after the selected one (at the end when none is).

        The new layer has the :data:`LAYER_DEFAULTS` settings (Dense: 128 units, ReLU;
        Dropout: rate 0.2).
        """
        default = LAYER_DEFAULTS.get(layer_type)
        layer = dataclasses.replace(default) if default is not None else \
            LayerSpec(type=cast(LayerType, layer_type))
        row = self.layer_list.currentRow()
        at = row + 1 if row >= 0 else len(self.head.layers)
        self.head.layers.insert(at, layer)
        self._fill_layers(select=at)
        self.edited.emit()

    @Slot()
    def remove_layer(self) -> None:
        """Remove the selected layer."""
        row = self.layer_list.currentRow()
        if 0 <= row < len(self.head.layers):
            del self.head.layers[row]
            self._fill_layers(select=min(row, len(self.head.layers) - 1))
            self.edited.emit()

    @Slot()
    def move_up(self) -> None:
        """Move the selected layer one place up."""
        self._move(-1)

    @Slot()
    def move_down(self) -> None:
        """Move the selected layer one place down."""
        self._move(1)

    def _move(self, delta: int) -> None:
        row = self.layer_list.currentRow()
        to = row + delta
        layers = self.head.layers
        if 0 <= row < len(layers) and 0 <= to < len(layers):
            layers[row], layers[to] = layers[to], layers[row]
            self._fill_layers(select=to)
            self.edited.emit()

    @Slot(int)
    def _show_editor(self, row: int) -> None:
        has = 0 <= row < len(self.head.layers)
        for b in (self.up_btn, self.down_btn, self.remove_btn):
            b.setEnabled(has)
        if not has:
            self.editor.setCurrentIndex(0)
            return
        layer = self.head.layers[row]
        self._updating = True
        try:
            if layer.type == "dense":
                self.units.setValue(layer.units)
                self.activation.setCurrentText(layer.activation)
                self.l1.setValue(layer.l1)
                self.l2.setValue(layer.l2)
                self.editor.setCurrentIndex(1)
            elif layer.type == "dropout":
                self.rate.setValue(layer.rate)
                self.editor.setCurrentIndex(2)
            else:
                self.editor.setCurrentIndex(3)
        finally:
            self._updating = False

    @Slot()
    def _on_layer_edited(self) -> None:
        if self._updating:
            return
        self.head.dropout = float(self.input_dropout.value())
        row = self.layer_list.currentRow()
        if 0 <= row < len(self.head.layers):
            layer = self.head.layers[row]
            if layer.type == "dense":
                layer.units = int(self.units.value())
                layer.activation = self.activation.currentText().strip() or "relu"
                layer.l1 = float(self.l1.value())
                layer.l2 = float(self.l2.value())
            elif layer.type == "dropout":
                layer.rate = float(self.rate.value())
            self.layer_list.item(row).setText(f"{row + 1}.  {describe_layer(layer)}")
        self.edited.emit()

    @Slot()
    def _on_pooling_edited(self) -> None:
        if self._updating or not self.pooling.currentText():
            return
        self.head.pooling = self.pooling.currentText()  # type: ignore[assignment]
        self.edited.emit()

    # -------------------------------------------------------------- outputs
    @Slot()
    def add_output(self) -> None:
        """Add an output bound to the first column no output uses yet."""
        used = {o.label_column for o in self.head.outputs}
        free = [c for c in self.columns if c not in used]
        names = {o.name for o in self.head.outputs}
        n = len(self.head.outputs) + 1
        name = f"output_{n}"
        while name in names:
            n += 1
            name = f"output_{n}"
        self.head.outputs.append(OutputSpec(name=name, label_column=free[0] if free else None))
        self._fill_outputs()
        self.edited.emit()

    @Slot()
    def remove_output(self) -> None:
        """Remove the selected output (one always stays)."""
        row = self.outputs.currentRow()
        if len(self.head.outputs) <= 1:
            return
        if row < 0:
            row = len(self.head.outputs) - 1
        del self.head.outputs[row]
        self._fill_outputs()
        self.edited.emit()

    @Slot()
    def _on_outputs_edited(self) -> None:
        if self._updating:
            return
        for i, out in enumerate(self.head.outputs):
            name = self.outputs.cellWidget(i, 0)
            label = self.outputs.cellWidget(i, 1)
            task = self.outputs.cellWidget(i, 2)
            act = self.outputs.cellWidget(i, 3)
            weight = self.outputs.cellWidget(i, 4)
            if not (isinstance(name, QLineEdit) and isinstance(label, QComboBox)
                    and isinstance(task, QComboBox) and isinstance(act, QComboBox)
                    and isinstance(weight, QLineEdit)):
                continue
            out.name = name.text().strip() or out.name
            text = label.currentText()
            out.label_column = None if text == DATA_LABEL else text
            out.task = task.currentData()
            activation = cast(OutputActivation, act.currentText())  # the combo lists them
            out.activation = fitting_activation(out.task, activation)
            try:
                out.loss_weight = max(0.0, float(weight.text()))
            except ValueError:
                weight.setText(f"{out.loss_weight:g}")
        self.edited.emit()

    def summary_lines(self) -> list[str]:
        """Return the head as short lines (for the model summary)."""
        lines = []
        if self.head.dropout:
            lines.append(f"Dropout {self.head.dropout:g}")
        lines += [describe_layer(layer) for layer in self.head.layers]
        return lines



