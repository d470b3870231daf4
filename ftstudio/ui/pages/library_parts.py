"""The Library page's parts: the entry table model and the import and download dialogs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from ftstudio.bridge import library_calls
from ftstudio.bridge.types import ImportSource, LibraryEntryInfo
from ftstudio.formatting import format_params
from ftstudio.spec import Preprocessing
from ftstudio.ui.choices import spec_values

__all__ = ["DownloadDialog", "EntryTableModel", "ImportDialog", "format_shape"]

_COLUMNS = [("Name", "name"), ("Modality", "modality"), ("Input", "input_shape"),
            ("Params", "params"), ("Kind", "kind"), ("Description", "description")]
_GUESS = "(guess)"
_PREPROCESSING = [_GUESS, *(v for v in spec_values(Preprocessing) if v != "auto")]


def format_shape(shape: list[int | None] | None, modality: str = "") -> str:
    """An input shape in words: ``8×8×3``, ``text (any length)``, ``12 features``.

    A text backbone takes token ids of any length (the preprocessor makes them); an unknown
    image size shows as "any" (``any×any×3``); ``-`` when there is no shape.
    """
    if modality == "text":
        return "text (any length)"
    if not shape:
        return "-"
    if modality == "tabular" and len(shape) == 1 and shape[0] is not None:
        return f"{shape[0]} features"
    return "×".join("any" if s is None else str(s) for s in shape)


class EntryTableModel(QAbstractTableModel):
    """Table model over the library's entries."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[LibraryEntryInfo] = []

    def set_entries(self, rows: list[LibraryEntryInfo]) -> None:
        """Replace all rows."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def entry(self, row: int) -> LibraryEntryInfo:
        """Return the entry of a row."""
        return self._rows[row]

    def entries(self) -> list[LibraryEntryInfo]:
        """Return every entry."""
        return list(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, D102, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, D102, N802
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: D102, N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section][0]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,  # noqa: D102
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        key = _COLUMNS[index.column()][1]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, key)
        if role == Qt.ItemDataRole.ToolTipRole and key == "description":
            return row.problem or row.description
        if role == Qt.ItemDataRole.TextAlignmentRole and key == "params":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: LibraryEntryInfo, key: str) -> str:
        if row.problem and key == "description":
            return f"BROKEN: {row.problem}"
        if key == "params":
            return format_params(row.params)
        if key == "input_shape":
            return format_shape(row.input_shape, row.modality)
        if key == "kind":
            return row.kind + (" (downloaded)" if row.network else "")
        return str(getattr(row, key))


class ImportDialog(QDialog):
    """Options of an import: name, sub-model / cut layer (model files), preprocessing.

    Args:
        info: what the chosen path holds (kind, submodels, layers, candidates).
        suggested_name: the name to propose.
    """

    def __init__(self, info: ImportSource, suggested_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import into the library")
        self.setMinimumWidth(520)  # room for the whole title and the file name
        self.info = info
        form = QFormLayout(self)
        kind = info.kind.replace("_", " ")
        form.addRow("Source:", QLabel(f"{Path(info.path).name} ({kind})"))
        self.name_edit = QLineEdit(suggested_name)
        form.addRow("Library name:", self.name_edit)
        self.submodel = QComboBox()
        self.submodel.setEditable(False)
        self.submodel.addItem("(whole model)", None)
        for sub in info.submodels:
            self.submodel.addItem(sub, sub)
        self.cut_layer = QComboBox()
        self.cut_layer.addItem("(none)", None)
        self.submodel.currentIndexChanged.connect(self._fill_layers)
        self._fill_layers()
        self.preprocessing = QComboBox()
        self.preprocessing.addItems(_PREPROCESSING)
        if info.kind in ("model_file", "run"):
            form.addRow("Sub-model:", self.submodel)
            form.addRow("Cut at layer:", self.cut_layer)
        if info.kind in ("model_file", "applications_weights"):
            form.addRow("Pixel scaling:", self.preprocessing)
        if info.candidates:
            form.addRow("Matches:", QLabel(", ".join(info.candidates)))
        note = QLabel("The files are copied into the library and checked; nothing in them is "
                      "run (Keras safe mode, no pickles).")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @Slot()
    def _fill_layers(self) -> None:
        sub = self.submodel.currentData()
        layers = self.info.submodels.get(sub, []) if sub else self.info.layers
        self.cut_layer.clear()
        self.cut_layer.addItem("(none)", None)
        for name in reversed(layers):
            self.cut_layer.addItem(name, name)

    def options(self) -> dict[str, Any]:
        """Return the import keyword arguments chosen in the dialog."""
        pre = self.preprocessing.currentText()
        return {"name": self.name_edit.text().strip() or None,
                "submodel": self.submodel.currentData(),
                "cut_layer": self.cut_layer.currentData(),
                "preprocessing": None if pre == _GUESS else pre}


class DownloadDialog(QDialog):
    """Choose what to download; says plainly that this uses the network."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download a model (uses the network)")
        self.setMinimumWidth(520)  # room for the whole title
        form = QFormLayout(self)
        warn = QLabel("<b>Network use.</b> This downloads model weights from the internet "
                      "into your library. Everything else in ftstudio works offline.")
        warn.setWordWrap(True)
        form.addRow(warn)
        self.source = QComboBox()
        self.source.addItem("keras.applications ImageNet weights", "applications")
        self.source.addItem("keras-hub preset", "preset")
        form.addRow("Source:", self.source)
        self.model = QLineEdit("MobileNetV2")
        self.model.setPlaceholderText("MobileNetV2, ResNet50 … or bert_tiny_en_uncased …")
        form.addRow("Model:", self.model)
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.0, 1.4)
        self.alpha.setSingleStep(0.05)
        self.alpha.setSpecialValueText("(default)")
        form.addRow("Width (alpha, MobileNets):", self.alpha)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("(automatic)")
        form.addRow("Library name:", self.name_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        ok = buttons.addButton("Download", QDialogButtonBox.ButtonRole.AcceptRole)
        ok.setToolTip("Uses the network")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> tuple[Callable[..., LibraryEntryInfo], dict[str, Any]]:
        """Return the download call of :mod:`ftstudio.bridge.library_calls` and its arguments."""
        name = self.name_edit.text().strip() or None
        if self.source.currentData() == "preset":
            return library_calls.download_preset, {"preset": self.model.text().strip(),
                                                   "name": name}
        alpha = self.alpha.value() or None
        return library_calls.download_applications, {"arch": self.model.text().strip(),
                                                     "name": name, "alpha": alpha}
