"""The Data page's health report: what in the data will hurt the run, and what to do.

Each finding of the engine's data health check (see ``ftstudio check``) is a block: its
severity, what was found, what it means for the run or its score, a few examples and the
action. Problems come first.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QTextBrowser, QVBoxLayout, QWidget

from ftstudio.bridge.data_loop_calls import HealthFinding, HealthResult
from ftstudio.ui.widgets.loop_parts import ActionView, muted_label, primary_button

__all__ = ["DataHealthView", "health_html"]

_SEVERITY = {"problem": ("#c5221f", "Fix before training"),
             "warning": ("#b06000", "Worth a look"),
             "info": ("#5f6368", "Good to know")}


def _finding_html(f: HealthFinding) -> str:
    color, word = _SEVERITY.get(f.severity, _SEVERITY["info"])
    examples = "".join(f"<li><code>{html.escape(e)}</code></li>" for e in f.examples)
    meaning = f"<div style='color:#5f6368'>{html.escape(f.meaning)}</div>" if f.meaning else ""
    return (f"<hr><p><span style='color:{color};font-weight:600'>{word}</span> · "
            f"<b>{html.escape(f.title)}</b></p>{meaning}"
            f"<ul style='margin-top:2px;margin-bottom:2px'>{examples}</ul>"
            f"<p><b>What to do:</b> {html.escape(f.action)}</p>")


def health_html(result: HealthResult) -> str:
    """The whole report as HTML (the summary, then every finding)."""
    classes = "; ".join(f"{html.escape(col)}: " + ", ".join(
        f"{html.escape(c)} {k:,}" for c, k in counts.items())
        for col, counts in result.classes.items())
    problems = sum(f.severity == "problem" for f in result.findings)
    head = (f"<p><b>{result.examples:,} examples</b>"
            + (f" · {classes}" if classes else "") + "</p>"
            + (f"<p style='color:#c5221f'>{problems} problem(s) to fix before training.</p>"
               if problems else
               "<p style='color:#188038'>Nothing that must be fixed before training.</p>"))
    body = "".join(_finding_html(f) for f in result.findings) or \
        "<p>No duplicates, leakage, imbalance or odd examples found.</p>"
    return head + body


class DataHealthView(ActionView):
    """A "Check data health" button and the report.

    Signals:
        checkRequested(): the user asks for the check (the page runs it in a job).
    """

    checkRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataHealth")
        self.check_btn = self.action_btn = primary_button("Check data health", "healthCheck")
        self.check_btn.clicked.connect(self.checkRequested)
        self.status = muted_label("Duplicates and leakage across the split, class balance, "
                                  "empty or cut-off texts, odd features or images.")
        self.report = QTextBrowser()
        self.report.setObjectName("healthReport")
        self.result: HealthResult | None = None
        bar = QHBoxLayout()
        bar.addWidget(self.check_btn)
        bar.addWidget(self.status, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.report, 1)

    def set_result(self, result: HealthResult) -> None:
        """Show a finished report."""
        self.result = result
        self.check_btn.setEnabled(True)
        n = len(result.findings)
        self.status.setText(f"{n} finding{'s' if n != 1 else ''} in "
                            f"{Path(result.source).name}")
        self.report.setHtml(health_html(result))

    def set_error(self, text: str) -> None:
        """Say why there is no report."""
        super().set_error(text)
        self.report.clear()
