"""What to label next: rank a pool of unlabelled examples, label the proposed ones in place.

The user chooses a CSV (text or feature columns, no labels needed) or a folder of images;
the page ranks it (uncertainty of a probe on the pretrained features, then diversity) and
lists the top N with the probe's guess and a class picker per row. "Save data with new
labels…" writes the labelled data plus the newly labelled rows to a NEW file; then
"Retrain from the last run" trains on that file starting from the last run's weights.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.data_loop_calls import NextResult
from ftstudio.ui.widgets.loop_parts import (
    ActionView,
    example_table,
    fill_row,
    muted_label,
    primary_button,
)
from ftstudio.ui.widgets.thumbnails import short_path, show_thumbnail

__all__ = ["UNLABELLED", "LabelNextView"]

UNLABELLED = "—"
HEADERS = ["Row", "Example", "Model's guess", "Your label"]


class LabelNextView(ActionView):
    """Choose a pool, rank it, label the proposed examples, save a new copy.

    Signals:
        rankRequested(str, int): the pool (file or folder) and how many to propose.
        saveRequested(str): the new file or folder to write the data plus new labels to.
        retrainRequested(): once the labels are saved, train on the new file starting
            from the last run's weights.
    """

    rankRequested = Signal(str, int)
    saveRequested = Signal(str)
    retrainRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labelNext")
        self.result: NextResult | None = None
        self.pool_btn = self.action_btn = primary_button("Choose unlabelled examples…",
                                                         "labelNextPool")
        self.pool_btn.clicked.connect(self._choose_pool)
        self.count = QSpinBox()
        self.count.setRange(1, 500)
        self.count.setValue(20)
        self.count.setPrefix("Propose ")
        self.save_btn = QPushButton("Save data with new labels…")
        self.save_btn.setEnabled(False)
        self.save_btn.clicked.connect(self._ask_save)
        self.retrain_btn = QPushButton("Retrain from the last run")
        self.retrain_btn.setObjectName("labelNextRetrain")
        self.retrain_btn.setToolTip("Train on the data with the new labels, starting from the "
                                    "weights of the project's last run (a warm start)")
        self.retrain_btn.setVisible(False)
        self.retrain_btn.clicked.connect(self.retrainRequested)
        self.status = muted_label("A CSV with the same input column(s) but no labels, or a "
                                  "folder of images: the most useful ones to label come first.")
        self.table = example_table(HEADERS, "labelNextTable")
        bar = QHBoxLayout()
        bar.addWidget(self.pool_btn)
        bar.addWidget(self.count)
        bar.addStretch(1)
        saved = QHBoxLayout()  # the retrain offer sits by the "Saved …" line it follows
        saved.addWidget(self.status, 1)
        saved.addWidget(self.retrain_btn)
        done = QHBoxLayout()  # saving comes after labelling, under the list
        done.addStretch(1)
        done.addWidget(self.save_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(bar)
        lay.addLayout(saved)
        lay.addWidget(self.table, 1)
        lay.addLayout(done)

    @Slot()
    def _choose_pool(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Unlabelled examples (a CSV)", "",
                                              "Tables (*.csv *.tsv *.txt);;All files (*)")
        if not path:
            path = QFileDialog.getExistingDirectory(self, "Or a folder of unlabelled images")
        if path:
            self.rankRequested.emit(path, self.count.value())

    def set_result(self, result: NextResult) -> None:
        """List the proposed examples, each with a class picker."""
        self.result = result
        self.pool_btn.setEnabled(True)
        self.status.setText(f"Label these {len(result.examples)} of {result.pool_size:,} "
                            f"first ({result.method}).")
        table_file = result.pool.lower().endswith((".csv", ".tsv", ".txt"))
        self.table.setHorizontalHeaderLabels(
            ["Line" if table_file else "Image", *HEADERS[1:]])
        self.table.setRowCount(0)
        self.table.setRowCount(len(result.examples))
        for r, e in enumerate(result.examples):
            cells = [str(e.row), e.input if table_file else short_path(e.input),
                     f"{e.guess} ({e.confidence:.0%})"]
            fill_row(self.table, r, cells)
            if not table_file:
                show_thumbnail(self.table, r, 1, e.input)
            combo = QComboBox()
            combo.addItems([UNLABELLED, *result.classes])
            self.table.setCellWidget(r, 3, combo)
        self.save_btn.setEnabled(bool(result.examples))
        self.retrain_btn.setVisible(False)

    def labels_saved(self) -> None:
        """The new labels are written: offer to retrain from the last run on them."""
        self.retrain_btn.setVisible(True)

    def set_label(self, row: int, label: str) -> None:
        """Pick ``label`` for the listed row ``row``."""
        combo = self.table.cellWidget(row, 3)
        if isinstance(combo, QComboBox):
            combo.setCurrentIndex(max(0, combo.findText(label)))

    def labels(self) -> dict[int, str]:
        """Pool row number -> the class the user picked (unlabelled rows left out)."""
        out: dict[int, str] = {}
        if self.result is None:
            return out
        for r, e in enumerate(self.result.examples):
            combo = self.table.cellWidget(r, 3)
            if isinstance(combo, QComboBox) and combo.currentText() != UNLABELLED:
                out[e.row] = combo.currentText()
        return out

    @Slot()
    def _ask_save(self) -> None:
        path = QFileDialog.getSaveFileName(self, "Save the data with the new labels (a new "
                                                 "file)", "", "CSV (*.csv)")[0]
        if path:
            self.saveRequested.emit(path)
