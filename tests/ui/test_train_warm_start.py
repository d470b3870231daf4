"""The Train page says when a run starts from another run's weights, and can start fresh."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from ftstudio.bridge.jobs import JobRunner
from ftstudio.ui.pages.train_page import TrainPage
from ftstudio.ui.project import Project


@pytest.mark.gui
def test_the_train_page_shows_init_from_run_and_start_fresh_clears_it(qtbot, tmp_path) -> None:  # noqa: ANN001
    project = Project()
    page = TrainPage(project, JobRunner())
    qtbot.addWidget(page)
    page.show()
    line = page.warm_start
    assert not line.isVisible()

    project.spec.training.init_from_run = str(tmp_path / "runs" / "flowers-7")
    project.touch("training")
    assert line.isVisible()
    assert line.label.text() == "Starts from the weights of run flowers-7"

    with qtbot.waitSignal(project.changed, timeout=1000) as changed:
        qtbot.mouseClick(line.fresh_btn, Qt.MouseButton.LeftButton)
    assert changed.args == ["training"]
    assert project.spec.training.init_from_run is None
    assert not line.isVisible()
    assert project.dirty

    project.spec.training.init_from_run = str(tmp_path / "runs" / "flowers-8")
    project.loaded.emit()  # a project opened with the key set shows it too
    assert line.isVisible() and line.label.text().endswith("run flowers-8")
