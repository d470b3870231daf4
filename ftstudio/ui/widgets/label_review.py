"""The label review list: likely label errors, each with keep / relabel / drop.

The rows are the review's most likely errors first: the ones confident learning flags, then
those the probe merely prefers another class for (or every example when "Show all" is on).
Each row's decision starts at "Keep"; "Save corrected copy…" asks for a NEW file (or folder,
for images) and the page writes the relabels and drops there: the user's original data is
never modified.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.data_loop_calls import LabelIssueRow, LabelReviewResult
from ftstudio.ui.widgets.loop_parts import (
    ActionView,
    example_table,
    fill_row,
    muted_label,
    primary_button,
)
from ftstudio.ui.widgets.thumbnails import short_path, show_thumbnail

__all__ = ["DECISION", "KEEP", "LabelReviewView", "MAX_SHOWN"]

KEEP = "Keep"
DROP = "Drop"
MAX_SHOWN = 500
"""At most this many rows are listed (the most likely errors)."""

HEADERS = ["Row", "Example", "Decision", "Given", "Suggested", "Evidence"]
DECISION = HEADERS.index("Decision")
"""The decision column: right by the example, so it stays in view on a narrow window (its
choices name the suggested class; the columns after it may scroll)."""
EVIDENCE_TIP = ("How sure the probes are of the given label: its out-of-fold probability. "
                "'likely' = below that class's threshold (confident learning); 'possible' = "
                "the probe prefers another class.")


def evidence(issue: LabelIssueRow) -> str:
    """The verdict and the probability of the given label, in one short cell."""
    verdict = "likely" if issue.flagged else "possible" if issue.margin < 0 else ""
    return f"{verdict} · p {issue.self_confidence:.2f}" if verdict else \
        f"p {issue.self_confidence:.2f}"


def decision_choices(issue: LabelIssueRow, classes: list[str]) -> list[str]:
    """Keep, relabel to the suggested class, to any other class, or drop."""
    others = [c for c in classes if c not in (issue.given, issue.suggested)]
    return [KEEP, f"→ {issue.suggested}", *[f"→ {c}" for c in others], DROP]


class LabelReviewView(ActionView):
    """Find likely label errors, decide on each, save a corrected copy.

    Signals:
        findRequested(): the user asks for the review (the page runs it in a job).
        saveRequested(str): the new file or folder to write the corrected data to.
    """

    findRequested = Signal()
    saveRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labelReview")
        self.review: LabelReviewResult | None = None
        self.shown: list[LabelIssueRow] = []
        self.find_btn = self.action_btn = primary_button("Find likely label errors",
                                                         "labelFind")
        self.find_btn.clicked.connect(self.findRequested)
        self.show_all = QCheckBox("Show all examples")
        self.show_all.toggled.connect(self._fill)
        self.save_btn = QPushButton("Save corrected copy…")
        self.save_btn.setEnabled(False)
        self.save_btn.clicked.connect(self._ask_save)
        self.status = muted_label("Cross-validated probes on the pretrained features flag "
                                  "labels the data itself contradicts.")
        self.table = example_table(HEADERS, "labelTable")
        bar = QHBoxLayout()
        for w in (self.find_btn, self.show_all):
            bar.addWidget(w)
        bar.addStretch(1)
        done = QHBoxLayout()  # saving comes after deciding, under the list
        done.addStretch(1)
        done.addWidget(self.save_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addWidget(self.table, 1)
        lay.addLayout(done)

    def set_review(self, review: LabelReviewResult) -> None:
        """Show a finished review (most likely errors first)."""
        self.review = review
        self.find_btn.setEnabled(True)
        flagged = sum(i.flagged for i in review.issues)
        possible = sum(not i.flagged and i.margin < 0 for i in review.issues)
        self.status.setText(f"{flagged:,} likely label error{'s' if flagged != 1 else ''} and "
                            f"{possible:,} possible one{'s' if possible != 1 else ''} "
                            f"(the probe prefers another class) among {len(review.issues):,} "
                            f"examples ({review.method}). Decide on each, then save a "
                            f"corrected copy; your file stays as it is.")
        self.table.setHorizontalHeaderLabels(
            ["Image" if review.modality == "image" else "Line", *HEADERS[1:]])
        header = self.table.horizontalHeaderItem(HEADERS.index("Evidence"))
        if header is not None:
            header.setToolTip(EVIDENCE_TIP)
        self._fill()

    @Slot()
    def _fill(self) -> None:
        review = self.review
        if review is None:
            return
        issues = review.issues if self.show_all.isChecked() else \
            [i for i in review.issues if i.flagged or i.margin < 0]
        self.shown = issues[:MAX_SHOWN]
        self.table.setRowCount(0)  # rows that showed a picture before get their height back
        self.table.setRowCount(len(self.shown))
        for r, issue in enumerate(self.shown):
            image = review.modality == "image"
            cells = [str(issue.row), short_path(issue.input) if image else issue.input,
                     "", issue.given, issue.suggested, evidence(issue)]
            fill_row(self.table, r, cells)
            if image:
                show_thumbnail(self.table, r, 1, issue.input)
            combo = QComboBox()
            combo.addItems(decision_choices(issue, review.classes))
            self.table.setCellWidget(r, DECISION, combo)
        self.save_btn.setEnabled(bool(self.shown))

    def set_decision(self, row: int, choice: str) -> None:
        """Set the decision of the listed row (``Keep``, ``Drop`` or ``→ class``)."""
        combo = self.table.cellWidget(row, DECISION)
        if isinstance(combo, QComboBox):
            combo.setCurrentIndex(max(0, combo.findText(choice)))

    def decisions(self) -> tuple[dict[int, str], list[int]]:
        """``({row: new class}, [rows to drop])`` from the decision column."""
        relabel: dict[int, str] = {}
        drop: list[int] = []
        for r, issue in enumerate(self.shown):
            combo = self.table.cellWidget(r, DECISION)
            choice = combo.currentText() if isinstance(combo, QComboBox) else KEEP
            if choice == DROP:
                drop.append(issue.row)
            elif choice.startswith("→ "):
                relabel[issue.row] = choice[2:]
        return relabel, drop

    @Slot()
    def _ask_save(self) -> None:
        if self.review is None:
            return
        if self.review.modality == "image":
            path = QFileDialog.getSaveFileName(self, "New folder for the corrected images")[0]
        else:
            path = QFileDialog.getSaveFileName(self, "Save the corrected data as a new CSV",
                                               "", "CSV (*.csv)")[0]
        if path:
            self.saveRequested.emit(path)
