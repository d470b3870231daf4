"""Library page: the offline model library — list, inspect, import, verify, remove, download.

Every operation is a :class:`~ftstudio.bridge.jobs.Job` over a call of
:mod:`ftstudio.bridge.library_calls`, one at a time; results arrive as the typed dataclasses of
:mod:`ftstudio.bridge.types` (:class:`LibraryEntryInfo`, …) on this page's GUI-thread callbacks.
Only "Download" uses the network, and the button and its dialog say so. The page never imports
the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QWidget,
)

from ftstudio.bridge import library_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.types import ImportSource, LibraryEntryInfo, VerifyResult
from ftstudio.ui.pages.library_parts import (
    DownloadDialog,
    EntryTableModel,
    ImportDialog,
    format_shape,
)
from ftstudio.ui.widgets.common import PageHeader, page_layout
from ftstudio.ui.widgets.flow_layout import FlowLayout

__all__ = ["DownloadDialog", "EntryTableModel", "ImportDialog", "LibraryPage"]

_OPERATION = "library"
"""The kind of this page's jobs: one library operation at a time."""


class LibraryPage(QWidget):
    """The model library: every backbone available offline, with what it is and its licence.

    Args:
        runner: the window's job runner (the operations run on its threads).
        parent: the Qt parent.

    Signals:
        entriesChanged(list): the :class:`LibraryEntryInfo` list after every refresh (for
            pages that pick a library backbone).
        busyChanged(bool): an operation started (True) or ended (False).
    """

    entriesChanged = Signal(list)  # noqa: N815
    busyChanged = Signal(bool)  # noqa: N815

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = CurrentJobs(runner, self)
        self.reporter = QtReporter(parent=self)
        self._pending_refresh = False
        self._pending_dialog: ImportSource | None = None
        self._last_error = ""
        self._last_result: Any = None
        self._build()
        self.reporter.statusChanged.connect(self._on_status)
        self.reporter.warningRaised.connect(self._on_warning)
        self.reporter.progressed.connect(self._on_progress)
        self.refresh_button.clicked.connect(self.refresh)
        self.import_file_button.clicked.connect(self._choose_file)
        self.import_folder_button.clicked.connect(self._choose_folder)
        self.verify_button.clicked.connect(self._verify_clicked)
        self.remove_button.clicked.connect(self._remove_clicked)
        self.defaults_button.clicked.connect(self.install_defaults)
        self.download_button.clicked.connect(self._download_clicked)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.selectionModel().selectionChanged.connect(self._update_verify_label)
        self.model.modelReset.connect(self._update_verify_label)
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.header = PageHeader(
            "Model library", "Pretrained backbones kept on this computer. Import model files or "
                             "folders, check them, and pick them on the Model page (under "
                             "\u201cModel library\u201d). Everything here works offline except "
                             "Download.")
        lay = page_layout(self, self.header)
        lay.addLayout(self._build_buttons())
        lay.addWidget(self._build_table(), 1)
        lay.addLayout(self._build_footer())

    def _build_buttons(self) -> FlowLayout:
        self.refresh_button = QPushButton("Refresh")
        self.import_file_button = QPushButton("Import file…")
        self.import_file_button.setToolTip(".keras / .h5 model, or a keras.applications "
                                           "weights file")
        self.import_folder_button = QPushButton("Import folder…")
        self.import_folder_button.setToolTip("keras-hub preset, Hugging Face folder "
                                             "(config.json + model.safetensors) or a run folder")
        self.verify_button = QPushButton("Verify all")
        self.verify_button.setToolTip("Check the files of every model (or only the selected "
                                      "one) against the sha256 recorded at import")
        self.remove_button = QPushButton("Remove")
        self.defaults_button = QPushButton("Install defaults")
        self.defaults_button.setToolTip("Register the bundled MiniLM (text) and MobileNetV2 "
                                        "(image) backbones")
        self.download_button = QPushButton("Download (network)…")
        self.download_button.setToolTip("Uses the network: downloads weights from the internet")
        self._buttons = [self.refresh_button, self.import_file_button,
                         self.import_folder_button, self.verify_button, self.remove_button,
                         self.defaults_button, self.download_button]
        bar = FlowLayout(spacing=6)
        for b in self._buttons:
            bar.addWidget(b)
        return bar

    def _build_table(self) -> QSplitter:
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
        return split

    def _build_footer(self) -> QHBoxLayout:
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setMaximumWidth(240)
        foot = QHBoxLayout()
        foot.addWidget(self.status_label, 1)
        foot.addWidget(self.progress)
        return foot

    # ------------------------------------------------------------------ public API
    def entries(self) -> list[LibraryEntryInfo]:
        """Return the entries shown."""
        return self.model.entries()

    def selected_name(self) -> str | None:
        """Return the name of the selected entry, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.entry(rows[0].row()).name if rows else None

    def select(self, name: str) -> bool:
        """Select the entry called ``name``; False when it is not listed."""
        for row, entry in enumerate(self.model.entries()):
            if entry.name == name:
                self.table.selectRow(row)
                return True
        return False

    def is_busy(self) -> bool:
        """Return True while an operation runs."""
        return self.jobs.is_running(_OPERATION)

    @property
    def last_error(self) -> str:
        """The message of the last failed operation ("" when the last one succeeded)."""
        return self._last_error

    @property
    def last_result(self) -> Any:
        """The result of the last finished operation (a dataclass of bridge.types, a name…)."""
        return self._last_result

    @Slot()
    def refresh(self) -> None:
        """Reload the list of entries (after the running operation, if any)."""
        if self.is_busy():
            self._pending_refresh = True
            return
        self._start(self._on_entries, library_calls.list_entries)

    def import_path(self, path: str, **options: Any) -> bool:
        """Import ``path`` with ``options`` (name, submodel, cut_layer, arch, preprocessing…)."""
        return self._start(self._on_added, library_calls.import_path, path,
                           reporter=self.reporter, **options)

    def inspect_path(self, path: str) -> bool:
        """Inspect ``path``, then open the import dialog with what it holds."""
        return self._start(self._on_inspected, library_calls.inspect_path, path)

    def verify(self, name: str | None = None) -> bool:
        """Verify one entry (or all)."""
        return self._start(self._on_verified, library_calls.verify, name,
                           reporter=self.reporter)

    def remove_entry(self, name: str, confirm: bool = True) -> bool:
        """Delete an entry, asking first unless ``confirm`` is False."""
        if confirm:
            answer = QMessageBox.question(
                self, "Remove model", f"Delete '{name}' and its files from the library?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        return self._start(self._on_removed, library_calls.remove, name)

    @Slot()
    def install_defaults(self) -> bool:
        """Register the bundled default backbones."""
        return self._start(self._on_defaults, library_calls.install_defaults,
                           reporter=self.reporter)

    def download(self, call: Callable[..., LibraryEntryInfo], **kwargs: Any) -> bool:
        """Run a download call of :mod:`ftstudio.bridge.library_calls` (network use)."""
        self._set_status("Network use: downloading…")
        return self._start(self._on_added, call, reporter=self.reporter, **kwargs)

    def shutdown(self) -> None:
        """Ask the running operation to stop and drop its result (call before closing).

        The job runner joins its thread (``JobRunner.wait_all``).
        """
        self.jobs.cancel()

    def closeEvent(self, event: Any) -> None:  # noqa: D102, N802
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ jobs
    def _start(self, on_result: Callable[[Any], None], call: Callable[..., Any], *args: Any,
               **kwargs: Any) -> bool:
        if self.is_busy():
            self._set_status("Busy: wait for the current operation to finish.")
            return False
        self.reporter.reset()
        job = Job(call, *args, title="Library operation failed", **kwargs)
        job.add_stop_hook(self.reporter.request_stop)
        self.jobs.start_job(_OPERATION, job, on_result=on_result, on_error=self._on_failed,
                            on_finished=self._on_done)
        self._set_busy(True)
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

    @Slot(float, object)
    def _on_progress(self, done: float, total: float | None) -> None:
        if not total or total <= 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done / total, 1.0)))

    def _succeeded(self, result: Any) -> None:
        self._last_error = ""
        self._last_result = result

    def _on_entries(self, entries: list[LibraryEntryInfo]) -> None:
        self._succeeded(entries)
        selected = self.selected_name()
        self.model.set_entries(entries)
        broken = sum(1 for e in entries if e.problem)
        self._set_status(f"{len(entries)} model(s) in the library" +
                         (f", {broken} broken" if broken else "") + ".")
        if selected:
            self.select(selected)
        self.entriesChanged.emit(list(entries))

    def _on_added(self, entry: LibraryEntryInfo) -> None:
        self._succeeded(entry)
        self._set_status(f"Added '{entry.name}': {entry.description}")
        self._pending_refresh = True

    def _on_inspected(self, info: ImportSource) -> None:
        self._succeeded(info)
        self._pending_dialog = info

    def _on_verified(self, reports: list[VerifyResult]) -> None:
        self._succeeded(reports)
        bad = [r for r in reports if not r.ok]
        if bad:
            self._set_status("DAMAGED: " + "; ".join(
                f"{r.name}: {', '.join(r.problems[:2])}" for r in bad))
        elif len(reports) == 1:
            r = reports[0]
            self._set_status(f"'{r.name}' verified: its {r.checked_files} file(s) match the "
                             f"sha256 recorded at import.")
        else:
            self._set_status(f"All {len(reports)} models verified: their files match the "
                             f"sha256 recorded at import.")
        self._show_verify(reports)

    def _on_removed(self, name: str) -> None:
        self._succeeded(name)
        self._set_status(f"Removed '{name}'.")
        self.details.clear()
        self._pending_refresh = True

    def _on_defaults(self, entries: list[LibraryEntryInfo]) -> None:
        self._succeeded(entries)
        self._set_status("Defaults installed: " + ", ".join(e.name for e in entries))
        self._pending_refresh = True

    def _on_failed(self, info: ErrorInfo) -> None:
        self._last_error = info.message
        # a bug's message goes on to say that the details help: they go in the details pane
        first, _, _ = info.message.partition("\n\n")
        self._set_status(f"Error: {first}")
        if info.details:
            self.details.setPlainText(info.details)

    def _on_done(self) -> None:
        self._set_busy(False)
        dialog_info, self._pending_dialog = self._pending_dialog, None
        if self._pending_refresh:
            self._pending_refresh = False
            self.refresh()
        elif dialog_info is not None:
            self._open_import_dialog(dialog_info)

    # ------------------------------------------------------------------ details
    @Slot()
    def _selection_changed(self) -> None:
        name = self.selected_name()
        entry = next((e for e in self.model.entries() if e.name == name), None)
        self.details.setPlainText(self.describe(entry) if entry else "")

    @staticmethod
    def describe(entry: LibraryEntryInfo) -> str:
        """Return the text shown for an entry: what it is, how to use it, licence, files."""
        if entry.problem:
            return f"{entry.name}: BROKEN\n{entry.problem}\n\nRemove it and import again."
        lines = [
            entry.name,
            entry.description,
            "",
            f"Modality: {entry.modality}    Input: "
            f"{format_shape(entry.input_shape, entry.modality)}"
            f"    Parameters: {entry.params:,}",
            f"Pixel scaling: {entry.preprocessing}    Default image size: "
            f"{entry.image_size or '-'}    Architecture: {entry.architecture or '-'}",
            f"Source: {entry.source}  ({entry.kind}{', downloaded' if entry.network else ''})",
            f"Added: {entry.created}    Folder: {entry.folder}",
            "",
            f"Use it: pick '{entry.name}' on the Model page, under “Model library”.",
            f'In a spec file (command line):  "backbone": {{"source": "library", '
            f'"name": "{entry.name}"}}',
            "",
            "Licence:",
            entry.licence or "(no licence text found with the model: check its origin "
                             "before redistributing)",
            "",
            "Files (sha256):",
        ]
        for rel, digest in sorted(entry.files.items()):
            lines.append(f"  {digest[:16]}…  {entry.sizes.get(rel, 0):>12,} B  {rel}")
        return "\n".join(lines)

    def _show_verify(self, reports: list[VerifyResult]) -> None:
        lines = []
        for r in reports:
            if r.ok:
                lines.append(f"ok       {r.name} ({r.checked_files} files)")
            else:
                lines.append(f"DAMAGED  {r.name}:")
                lines.extend(f"    {p}" for p in r.problems)
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

    def _open_import_dialog(self, info: ImportSource) -> None:
        path = Path(info.path)
        stem = path.name.split(".")[0] if path.is_file() else path.name
        suggested = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-.")
        dialog = ImportDialog(info, suggested or "model", self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.import_path(str(path), **dialog.options())

    @Slot()
    def _verify_clicked(self) -> None:
        self.verify(self.selected_name())

    @Slot()
    def _update_verify_label(self) -> None:
        """The Verify button says what it checks: the selected model, or all of them."""
        name = self.selected_name()
        self.verify_button.setText(f"Verify '{name}'" if name else "Verify all")

    def choose_weights_file(self, arch: str = "") -> None:
        """Ask for a weights file (for keras.applications ``arch``) and import it."""
        self._set_status(f"Choose the ImageNet weights file of {arch} (a .h5 file from "
                         f"keras.applications, 'no top')." if arch else
                         "Choose a model or weights file.")
        self._choose_file()

    def open_download(self, arch: str = "") -> None:
        """Open the download dialog with keras.applications ``arch`` filled in."""
        dialog = DownloadDialog(self)
        if arch:
            dialog.model.setText(arch)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            call, kwargs = dialog.options()
            self.download(call, **kwargs)

    @Slot()
    def _remove_clicked(self) -> None:
        name = self.selected_name()
        if name:
            self.remove_entry(name)
        else:
            self._set_status("Select a model to remove.")

    @Slot()
    def _download_clicked(self) -> None:
        self.open_download()
