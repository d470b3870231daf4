"""Library page: the offline model library — list, inspect, import, verify, remove, download.

Every operation runs in a :class:`~ftstudio.bridge.library_workers.LibraryWorker` on a
QThread; results arrive as plain dicts on bound slots of this page. Only "Download" uses the
network, and the button and its dialog say so. The page never imports the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QThread,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.library_workers import LibraryWorker, start_worker, stop_thread

__all__ = ["DownloadDialog", "EntryTableModel", "ImportDialog", "LibraryPage"]

_COLUMNS = [("Name", "name"), ("Modality", "modality"), ("Input", "input_shape"),
            ("Params", "params"), ("Kind", "kind"), ("Description", "description")]
_PREPROCESSING = ["(guess)", "none", "scale_0_1", "scale_-1_1", "caffe", "torch"]


def _fmt_params(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def _fmt_shape(shape: Any) -> str:
    if not isinstance(shape, list) or not shape:
        return "-"
    return "×".join("?" if s is None else str(s) for s in shape)


class EntryTableModel(QAbstractTableModel):
    """Table model over library entry dicts (as ``LibraryEntry.to_dict()`` gives them)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []

    def set_entries(self, rows: list[dict[str, Any]]) -> None:
        """Replace all rows."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def entry(self, row: int) -> dict[str, Any]:
        """Return the entry dict of a row."""
        return self._rows[row]

    def entries(self) -> list[dict[str, Any]]:
        """Return every entry dict."""
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
            if row.get("problem") and key == "description":
                return f"BROKEN: {row['problem']}"
            if key == "params":
                return _fmt_params(row.get("params"))
            if key == "input_shape":
                return _fmt_shape(row.get("input_shape"))
            if key == "kind":
                return str(row.get("kind", "")) + (" (downloaded)" if row.get("network") else "")
            return str(row.get(key, ""))
        if role == Qt.ItemDataRole.ToolTipRole and key == "description":
            return row.get("problem") or row.get("description")
        if role == Qt.ItemDataRole.TextAlignmentRole and key == "params":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ImportDialog(QDialog):
    """Options of an import: name, sub-model / cut layer (model files), preprocessing.

    Args:
        info: the ``inspect`` result for the chosen path (kind, submodels, layers, candidates).
        suggested_name: the name to propose.
    """

    def __init__(self, info: dict[str, Any], suggested_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import into the library")
        self.info = info
        form = QFormLayout(self)
        kind = str(info.get("kind", "?")).replace("_", " ")
        form.addRow("Source:", QLabel(f"{Path(str(info.get('path', ''))).name} ({kind})"))
        self.name_edit = QLineEdit(suggested_name)
        form.addRow("Library name:", self.name_edit)
        self.submodel = QComboBox()
        self.submodel.setEditable(False)
        self.submodel.addItem("(whole model)", None)
        for sub in info.get("submodels", {}) or {}:
            self.submodel.addItem(sub, sub)
        self.cut_layer = QComboBox()
        self.cut_layer.addItem("(none)", None)
        self.submodel.currentIndexChanged.connect(self._fill_layers)
        self._fill_layers()
        self.preprocessing = QComboBox()
        self.preprocessing.addItems(_PREPROCESSING)
        if info.get("kind") in ("model_file", "run"):
            form.addRow("Sub-model:", self.submodel)
            form.addRow("Cut at layer:", self.cut_layer)
        if info.get("kind") in ("model_file", "applications_weights"):
            form.addRow("Pixel scaling:", self.preprocessing)
        if info.get("candidates"):
            form.addRow("Matches:", QLabel(", ".join(info["candidates"])))
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
        layers = (self.info.get("submodels", {}) or {}).get(sub) if sub else \
            self.info.get("layers", [])
        self.cut_layer.clear()
        self.cut_layer.addItem("(none)", None)
        for name in reversed(layers or []):
            self.cut_layer.addItem(name, name)

    def options(self) -> dict[str, Any]:
        """Return the import keyword arguments chosen in the dialog."""
        pre = self.preprocessing.currentText()
        return {"name": self.name_edit.text().strip() or None,
                "submodel": self.submodel.currentData(),
                "cut_layer": self.cut_layer.currentData(),
                "preprocessing": None if pre.startswith("(") else pre}


class DownloadDialog(QDialog):
    """Choose what to download; says plainly that this uses the network."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download a model (uses the network)")
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

    def options(self) -> tuple[str, dict[str, Any]]:
        """Return ``(op, kwargs)`` for a :class:`LibraryWorker`."""
        name = self.name_edit.text().strip() or None
        if self.source.currentData() == "preset":
            return "download_preset", {"preset": self.model.text().strip(), "name": name}
        alpha = self.alpha.value() or None
        return "download_applications", {"arch": self.model.text().strip(), "name": name,
                                          "alpha": alpha}


class LibraryPage(QWidget):
    """The model library: every backbone available offline, with what it is and its licence.

    Signals:
        entriesChanged(list): the entry dicts after every refresh (for pages that pick a
            library backbone).
        busyChanged(bool): an operation started (True) or ended (False).
    """

    entriesChanged = Signal(list)  # noqa: N815
    busyChanged = Signal(bool)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker: LibraryWorker | None = None
        self._thread: QThread | None = None
        self._op = ""
        self._pending_refresh = False
        self._last_error = ""
        self._last_result: Any = None
        self._pending_dialog: dict[str, Any] | None = None

        title = QLabel("Model library")
        title.setObjectName("pageTitle")
        subtitle = QLabel("Pretrained backbones kept on this computer. Import model files or "
                          "folders, check them, and use them in a spec with "
                          "backbone.source \"library\". Everything here works offline except "
                          "Download.")
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)

        self.refresh_button = QPushButton("Refresh")
        self.import_file_button = QPushButton("Import file…")
        self.import_file_button.setToolTip(".keras / .h5 model, or a keras.applications "
                                           "weights file")
        self.import_folder_button = QPushButton("Import folder…")
        self.import_folder_button.setToolTip("keras-hub preset, Hugging Face folder "
                                             "(config.json + model.safetensors) or a run folder")
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Check every file against the sha256 recorded at import")
        self.remove_button = QPushButton("Remove")
        self.defaults_button = QPushButton("Install defaults")
        self.defaults_button.setToolTip("Register the bundled MiniLM (text) and MobileNetV2 "
                                        "(image) backbones")
        self.download_button = QPushButton("Download (network)…")
        self.download_button.setToolTip("Uses the network: downloads weights from the internet")
        self._buttons = [self.refresh_button, self.import_file_button,
                         self.import_folder_button, self.verify_button, self.remove_button,
                         self.defaults_button, self.download_button]
        bar = QHBoxLayout()
        for b in self._buttons:
            bar.addWidget(b)
        bar.addStretch(1)

        self.model = EntryTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a model to see what it is, its licence and "
                                        "its files.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setMaximumWidth(240)
        foot = QHBoxLayout()
        foot.addWidget(self.status_label, 1)
        foot.addWidget(self.progress)

        lay = QVBoxLayout(self)
        lay.addWidget(title)
        lay.addWidget(subtitle)
        lay.addLayout(bar)
        lay.addWidget(split, 1)
        lay.addLayout(foot)

        self.refresh_button.clicked.connect(self.refresh)
        self.import_file_button.clicked.connect(self._choose_file)
        self.import_folder_button.clicked.connect(self._choose_folder)
        self.verify_button.clicked.connect(self._verify_clicked)
        self.remove_button.clicked.connect(self._remove_clicked)
        self.defaults_button.clicked.connect(self.install_defaults)
        self.download_button.clicked.connect(self._download_clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.refresh()

    # ------------------------------------------------------------------ public API
    def entries(self) -> list[dict[str, Any]]:
        """Return the entry dicts shown."""
        return self.model.entries()

    def selected_name(self) -> str | None:
        """Return the name of the selected entry, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.entry(rows[0].row())["name"] if rows else None

    def select(self, name: str) -> bool:
        """Select the entry called ``name``; False when it is not listed."""
        for row, entry in enumerate(self.model.entries()):
            if entry["name"] == name:
                self.table.selectRow(row)
                return True
        return False

    def is_busy(self) -> bool:
        """Return True while an operation runs."""
        return self._worker is not None

    @property
    def last_error(self) -> str:
        """The message of the last failed operation ("" when the last one succeeded)."""
        return self._last_error

    @property
    def last_result(self) -> Any:
        """The result of the last finished operation (plain data)."""
        return self._last_result

    @Slot()
    def refresh(self) -> None:
        """Reload the list of entries (after the running operation, if any)."""
        if self.is_busy():
            self._pending_refresh = True
            return
        self._start("list")

    def import_path(self, path: str, **options: Any) -> bool:
        """Import ``path`` with ``options`` (name, submodel, cut_layer, arch, preprocessing…)."""
        return self._start("import", path=path, **options)

    def inspect_path(self, path: str) -> bool:
        """Inspect ``path``, then open the import dialog with what it holds."""
        return self._start("inspect", path=path)

    def verify(self, name: str | None = None) -> bool:
        """Verify one entry (or all)."""
        return self._start("verify", name=name)

    def remove_entry(self, name: str, confirm: bool = True) -> bool:
        """Delete an entry, asking first unless ``confirm`` is False."""
        if confirm:
            answer = QMessageBox.question(
                self, "Remove model", f"Delete '{name}' and its files from the library?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        return self._start("remove", name=name)

    @Slot()
    def install_defaults(self) -> bool:
        """Register the bundled default backbones."""
        return self._start("install_defaults")

    def download(self, op: str, **kwargs: Any) -> bool:
        """Run a download operation (network use)."""
        self._set_status("Network use: downloading…")
        return self._start(op, **kwargs)

    def shutdown(self) -> None:
        """Stop the running operation and wait for its thread (call before closing)."""
        stop_thread(self._worker, self._thread)
        self._worker = None
        self._thread = None

    def closeEvent(self, event: Any) -> None:  # noqa: D102, N802
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ workers
    def _start(self, op: str, **kwargs: Any) -> bool:
        if self.is_busy():
            self._set_status("Busy: wait for the current operation to finish.")
            return False
        self._op = op
        worker = LibraryWorker(op, **kwargs)
        worker.status.connect(self._on_status)
        worker.warning.connect(self._on_warning)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._worker = worker
        self._set_busy(True)
        self._thread = start_worker(worker, self, self._on_thread_finished)
        return True

    def _set_busy(self, busy: bool) -> None:
        for b in self._buttons:
            b.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
        self.busyChanged.emit(busy)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    @Slot(str)
    def _on_status(self, text: str) -> None:
        self._set_status(text)

    @Slot(str)
    def _on_warning(self, text: str) -> None:
        self._set_status(f"⚠ {text}")

    @Slot(float, float)
    def _on_progress(self, done: float, total: float) -> None:
        if total <= 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done / total, 1.0)))

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self._last_error = ""
        self._last_result = result
        op = self._op
        if op == "list":
            selected = self.selected_name()
            self.model.set_entries(result)
            broken = sum(1 for e in result if e.get("problem"))
            self._set_status(f"{len(result)} model(s) in the library" +
                             (f", {broken} broken" if broken else "") + ".")
            if selected:
                self.select(selected)
            self.entriesChanged.emit(list(result))
        elif op in ("import", "download_preset", "download_applications"):
            self._set_status(f"Added '{result['name']}': {result['description']}")
            self._pending_refresh = True
        elif op == "inspect":
            self._pending_dialog = result
        elif op == "verify":
            bad = [r for r in result if not r["ok"]]
            if bad:
                self._set_status("DAMAGED: " + "; ".join(
                    f"{r['name']}: {', '.join(r['problems'][:2])}" for r in bad))
            else:
                self._set_status(f"All {len(result)} model(s) verified: files match their "
                                 f"sha256.")
            self._show_verify(result)
        elif op == "remove":
            self._set_status(f"Removed '{result}'.")
            self.details.clear()
            self._pending_refresh = True
        elif op == "install_defaults":
            self._set_status("Defaults installed: " + ", ".join(e["name"] for e in result))
            self._pending_refresh = True

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._last_error = message
        self._set_status(f"Error: {message}")

    @Slot()
    def _on_done(self) -> None:
        pass

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = None
        self._worker = None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        self._set_busy(False)
        dialog_info = self._pending_dialog
        self._pending_dialog = None
        if self._pending_refresh:
            self._pending_refresh = False
            self.refresh()
        elif dialog_info is not None:
            self._open_import_dialog(dialog_info)

    # ------------------------------------------------------------------ details
    @Slot()
    def _selection_changed(self) -> None:
        name = self.selected_name()
        entry = next((e for e in self.model.entries() if e["name"] == name), None)
        self.details.setPlainText(self.describe(entry) if entry else "")

    @staticmethod
    def describe(entry: dict[str, Any]) -> str:
        """Return the text shown for an entry: what it is, how to use it, licence, files."""
        if entry.get("problem"):
            return f"{entry['name']}: BROKEN\n{entry['problem']}\n\nRemove it and import again."
        lines = [
            f"{entry['name']}",
            f"{entry.get('description', '')}",
            "",
            f"Modality: {entry.get('modality')}    Input: {_fmt_shape(entry.get('input_shape'))}"
            f"    Parameters: {entry.get('params', 0):,}",
            f"Pixel scaling: {entry.get('preprocessing')}    Default image size: "
            f"{entry.get('image_size') or '-'}    Architecture: {entry.get('architecture') or '-'}",
            f"Source: {entry.get('source')}  ({entry.get('kind')}"
            f"{', downloaded' if entry.get('network') else ''})",
            f"Added: {entry.get('created', '')}    Folder: {entry.get('folder', '')}",
            "",
            f'Use it in a spec:  "backbone": {{"source": "library", "name": "{entry["name"]}"}}',
            "",
            "Licence:",
            entry.get("licence") or "(no licence text found with the model: check its origin "
                                    "before redistributing)",
            "",
            "Files (sha256):",
        ]
        sizes = entry.get("sizes", {})
        for rel, digest in sorted(entry.get("files", {}).items()):
            lines.append(f"  {digest[:16]}…  {sizes.get(rel, 0):>12,} B  {rel}")
        return "\n".join(lines)

    def _show_verify(self, reports: list[dict[str, Any]]) -> None:
        lines = []
        for r in reports:
            if r["ok"]:
                lines.append(f"ok       {r['name']} ({r['checked_files']} files)")
            else:
                lines.append(f"DAMAGED  {r['name']}:")
                lines.extend(f"    {p}" for p in r["problems"])
        self.details.setPlainText("\n".join(lines) or "The library is empty.")

    # ------------------------------------------------------------------ dialogs
    @Slot()
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model file", "", "Keras models and weights (*.keras *.h5 *.hdf5);;"
                                             "All files (*)")
        if path:
            self.inspect_path(path)

    @Slot()
    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a model folder")
        if path:
            self.inspect_path(path)

    def _open_import_dialog(self, info: dict[str, Any]) -> None:
        path = Path(str(info.get("path", "")))
        stem = path.name.split(".")[0] if path.is_file() else path.name
        suggested = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-.")
        dialog = ImportDialog(info, suggested or "model", self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.import_path(str(path), **dialog.options())

    @Slot()
    def _verify_clicked(self) -> None:
        self.verify(self.selected_name())

    @Slot()
    def _remove_clicked(self) -> None:
        name = self.selected_name()
        if name:
            self.remove_entry(name)
        else:
            self._set_status("Select a model to remove.")

    @Slot()
    def _download_clicked(self) -> None:
        dialog = DownloadDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            op, kwargs = dialog.options()
            self.download(op, **kwargs)
