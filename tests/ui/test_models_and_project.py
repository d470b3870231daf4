"""The DataFrame table model, project files and settings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from ftstudio.errors import SpecError
from ftstudio.spec import DataSpec, ExperimentSpec
from ftstudio.ui.project import Project, read_project, write_project
from ftstudio.ui.settings import add_recent, make_settings, recent_projects
from ftstudio.ui.widgets.dataframe_model import DataFrameModel

pytestmark = pytest.mark.gui


def test_dataframe_model_reads_cells_in_place(qapp) -> None:
    frame = pd.DataFrame({"text": ["a", None, "x" * 500], "n": [1.5, float("nan"), 3.0]},
                         index=[2, 3, 4])
    m = DataFrameModel(frame)
    assert (m.rowCount(), m.columnCount()) == (3, 2)
    assert m.index(0, 0).data() == "a"
    assert m.index(1, 0).data() == "—" and m.index(1, 1).data() == "—"
    assert m.index(2, 0).data().endswith("…") and len(m.index(2, 0).data()) < 260
    assert m.index(0, 1).data() == "1.5"
    assert m.headerData(0, Qt.Orientation.Vertical) == "2"  # the file line
    m.set_roles({"text": "text", "n": "label"})
    assert m.index(0, 1).data(Qt.ItemDataRole.BackgroundRole) is not None
    m.set_frame(None)
    assert m.rowCount() == 0


def test_project_round_trip(tmp_path: Path, qapp) -> None:
    data = tmp_path / "d.csv"
    data.write_text("t,y\na,b\n")
    spec = ExperimentSpec(name="p", data=DataSpec(path=str(data), text_column="t",
                                                  label_column="y"))
    path = tmp_path / "sub" / "p.ftsproj"
    path.parent.mkdir()
    write_project(path, spec, {"page": "train"})
    spec2, ui = read_project(path)
    assert spec2 == spec and ui == {"page": "train"}

    project = Project()
    project.open(path)
    assert project.path == path.resolve() and not project.dirty
    project.spec.training.epochs = 7
    project.touch("training")
    assert project.dirty
    project.save()
    assert not project.dirty
    assert read_project(path)[0].training.epochs == 7


def test_plain_spec_opens_with_relative_paths(tmp_path: Path, qapp) -> None:
    (tmp_path / "d.csv").write_text("t,y\na,b\n")
    (tmp_path / "spec.json").write_text(
        '{"data": {"path": "d.csv", "text_column": "t", "label_column": "y"}}')
    project = Project()
    project.open(tmp_path / "spec.json")
    assert project.path is None  # a spec is not a project file: Save asks for a name
    assert project.spec.data.path == str((tmp_path / "d.csv").resolve())


def test_bad_project_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "bad.ftsproj").write_text("{nope")
    with pytest.raises(SpecError):
        read_project(tmp_path / "bad.ftsproj")


def test_settings_live_under_ftstudio_home(_isolated_home: Path, tmp_path: Path, qapp) -> None:
    settings = make_settings()
    assert Path(settings.fileName()) == _isolated_home / "settings.ini"
    f = tmp_path / "a.ftsproj"
    f.write_text("{}")
    add_recent(f, settings)
    assert recent_projects(make_settings()) == [str(f.resolve())]
