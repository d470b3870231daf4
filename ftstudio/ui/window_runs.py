"""What the window does when a run ends, opens, or is asked for: the Runs, Train and Evaluate links.

:class:`RunLinks` holds the window's slots for the pages' run signals (a run finished, show
its evaluation, open / extend a run, use a run's settings, retrain from the last run) and the
Model page's "get weights" requests; the window connects the pages to them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from ftstudio.bridge.jobs import ErrorInfo
from ftstudio.bridge.types import RunDetails, TrainOutcome
from ftstudio.errors import FtStudioError
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.pages.data_loop_panel import start_from_run

if TYPE_CHECKING:
    from ftstudio.ui.main_window import MainWindow

__all__ = ["RunLinks"]


class RunLinks(QObject):
    """The window's slots for runs finishing, opening and being reused.

    Args:
        window: the main window (its pages, project and status bar).
        closing: says whether the window is closing (then a finished run only is recorded).
    """

    def __init__(self, window: MainWindow, closing: Callable[[], bool]) -> None:
        super().__init__(window)
        self.window = window
        self.closing = closing

    @Slot(str)
    def on_weights_import(self, arch: str) -> None:
        """Show the Library and ask for a weights file of ``arch``."""
        self.window.go_to("library")
        self.window.library_page.choose_weights_file(arch)

    @Slot(str)
    def on_weights_download(self, arch: str) -> None:
        """Show the Library's download of ``arch``'s weights."""
        self.window.go_to("library")
        self.window.library_page.open_download(arch)

    @Slot(object)
    def on_run_finished(self, outcome: TrainOutcome) -> None:
        """Remember the run as the project's last one and open it quietly."""
        self.window.project.ui_state["last_run"] = outcome.run_dir
        if self.closing():
            return
        self.window.export_page.set_run(outcome.run_dir)
        # the runs list is refreshed once, on runEnded (which follows every runFinished)
        self.window.runs_page.open_run(outcome.run_dir, purpose="quiet")

    @Slot(str)
    def on_show_evaluation(self, run_dir: str) -> None:
        """Show the Evaluate page on the run in ``run_dir``."""
        self.window.go_to("evaluate")
        run = self.window.evaluate_page.run
        if run is None or Path(run.path) != Path(run_dir):
            self.window.runs_page.open_run(run_dir, purpose="show")

    @Slot(object, bool)
    def on_run_opened(self, details: RunDetails, switch: bool) -> None:
        """Show an opened run on Evaluate and Export (and its curves on Train when ``switch``)."""
        self.window.evaluate_page.show_run(details)
        self.window.export_page.set_run(details.path)
        if switch:
            self.window.train_page.show_history(details.history, details.name)
            self.window.go_to("evaluate")

    @Slot(str)
    def on_extend_requested(self, run_dir: str) -> None:
        """Show the Train page and ask how many epochs to add to the run."""
        self.window.go_to("train")
        self.window.train_page.ask_and_extend(run_dir)

    @Slot(str)
    def retrain_from_last_run(self, data_path: str) -> None:
        """Open the newly labelled data, start from the last run's weights, show Train."""
        self.window.finish_setup()
        if data_path:
            self.window.data_page.open_path(data_path, keep_columns=True, edited=True)
        run = self.window.evaluate_page.run
        last = self.window.project.ui_state.get("last_run") or (run.path if run else None)
        self.window.show_status(start_from_run(self.window.project.spec, last and str(last)))
        self.window.project.touch("training")
        self.window.go_to("train")

    @Slot(object)
    def on_spec_requested(self, details: RunDetails) -> None:
        """Use a run's settings as the project (asks to save unsaved changes)."""
        if not self.window.files.confirm_discard():
            return
        try:
            spec = ExperimentSpec.from_dict(details.spec)
        except FtStudioError as exc:
            self.window.show_error(ErrorInfo("Cannot use this run's settings", str(exc), None,
                                             True))
            return
        self.window.project.set_spec(spec, None, {"last_run": details.path})
        self.window.project.touch("name")
        self.window.evaluate_page.show_run(details)
        self.window.go_to("data")
