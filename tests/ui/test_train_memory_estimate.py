"""The Train page's memory estimate: measured in the job child, once per spec, not per show."""

from __future__ import annotations

from typing import Any

import pytest

from ftstudio.bridge import child_process, recipe_calls
from ftstudio.bridge.recipe_types import MemoryInfo
from tests.ui.conftest import open_data, wait_engine


@pytest.mark.gui
def test_showing_the_train_page_twice_estimates_once_through_the_child(
        qtbot, window, tabular_csv, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("FTSTUDIO_TRAIN_IN_THREAD", raising=False)
    calls: list[tuple[str, Any]] = []
    in_process: list[str] = []

    def fake_run_call(name: str, *args: Any, reporter: Any, keep_warm: bool = False,
                      **kwargs: Any) -> MemoryInfo:
        calls.append((name, args))
        assert not reporter.should_stop() and keep_warm
        return MemoryInfo("1,000 parameters", None, 3_000_000, 8_000_000_000, 1000, 900)

    monkeypatch.setattr(child_process, "run_call", fake_run_call)
    monkeypatch.setattr(recipe_calls, "run_estimate_memory",
                        lambda *a, **k: in_process.append("called"))
    w = window
    wait_engine(qtbot, w)
    open_data(qtbot, w, tabular_csv)
    tools = w.train_page.tools
    w.go_to("train")
    qtbot.waitUntil(lambda: tools.memory is not None, timeout=30_000)
    w.go_to("data")
    w.go_to("train")
    qtbot.wait(2 * 700 + 300)  # past the debounce of the second show
    assert tools.memory_estimates == 1
    assert [name for name, _ in calls] == ["memory_estimate"]
    assert in_process == []
    assert tools.memory_label.isVisible()
    assert tools.memory_label.text().startswith("Memory: about 3.0 MB of 8.0 GB free · ")

    w.project.spec.training.batch_size *= 2  # a field the estimate depends on
    w.project.touch("training")
    qtbot.waitUntil(lambda: tools.memory_estimates == 2, timeout=5_000)
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5_000)
