"""The open project: the current ExperimentSpec, its file, and the window's UI state.

A project file is JSON: ``{"ftstudio_project": 1, "spec": {…}, "ui": {…}}``. A plain spec file
(``spec.json`` of a run, or one written for the CLI) opens as a project too. Pages edit
``project.spec`` in place and call :meth:`Project.touch` with the section they changed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec, read_json_object

__all__ = ["PROJECT_FORMAT", "PROJECT_SUFFIX", "Project", "read_project", "write_project"]

PROJECT_FORMAT = 1
PROJECT_SUFFIX = ".ftsproj"


def read_project(path: str | Path) -> tuple[ExperimentSpec, dict[str, Any]]:
    """Read a project file (or a plain spec file).

    Returns:
        ``(spec, ui_state)``; relative paths in the spec are resolved against the file.

    Raises:
        SpecError: the file is missing, not JSON, or holds an invalid spec.
    """
    p = Path(path)
    data = read_json_object(p, "project file")
    if "ftstudio_project" in data:
        if not isinstance(data.get("spec"), dict):
            raise SpecError(f"{p.name} is a project file without a 'spec' section")
        spec = ExperimentSpec.from_dict(data["spec"]).resolved(p.resolve().parent)
        ui = data.get("ui")
        return spec, dict(ui) if isinstance(ui, dict) else {}
    return ExperimentSpec.from_dict(data).resolved(p.resolve().parent), {}


def write_project(path: str | Path, spec: ExperimentSpec, ui_state: dict[str, Any]) -> None:
    """Write a project file atomically."""
    p = Path(path)
    data = {"ftstudio_project": PROJECT_FORMAT, "spec": spec.to_dict(), "ui": ui_state}
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(p)


class Project(QObject):
    """The experiment being edited.

    Signals:
        loaded(): a whole new spec arrived (new / open); pages refresh every widget.
        changed(str): a page edited a section (``data``, ``backbone``, ``head``, ``freeze``,
            ``training``, ``name``).
        dirtyChanged(bool): unsaved changes appeared or were saved.
        pathChanged(object): the project file changed (``Path`` or ``None``).
        readinessChanged(): :attr:`blockers` or :attr:`untrained_backbone` changed.
    """

    loaded = Signal()
    changed = Signal(str)
    dirtyChanged = Signal(bool)
    pathChanged = Signal(object)
    readinessChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = ExperimentSpec()
        self.path: Path | None = None
        self.ui_state: dict[str, Any] = {}
        self.dirty = False
        self.data_check: Any = None
        """The last :class:`~ftstudio.bridge.types.DataCheck` of the current data (or None)."""
        self.blockers: dict[str, str] = {}
        """Area (``data``, ``model``) -> why training cannot start yet, in words."""
        self.untrained_backbone: str | None = None
        """The chosen backbone's name when it has no pretrained weights (else None)."""

    # ------------------------------------------------------------ lifecycle
    def new(self) -> None:
        """Start an empty project."""
        self.set_spec(ExperimentSpec(), None, {})

    def set_spec(self, spec: ExperimentSpec, path: Path | None = None,
                 ui_state: dict[str, Any] | None = None) -> None:
        """Replace the whole spec (and file) and tell every page."""
        self.spec = spec
        self.ui_state = dict(ui_state or {})
        self.data_check = None
        self.blockers = {}
        self._set_path(path)
        self._set_dirty(False)
        self.loaded.emit()

    def open(self, path: str | Path) -> None:
        """Open a project or spec file.

        Raises:
            SpecError: the file cannot be read or holds an invalid spec.
        """
        p = Path(path).resolve()
        spec, ui = read_project(p)
        is_project = p.suffix == PROJECT_SUFFIX or "ftstudio_project" in p.read_text(
            encoding="utf-8")[:200]
        self.set_spec(spec, p if is_project else None, ui)

    def save(self, path: str | Path | None = None, ui_state: dict[str, Any] | None = None) -> Path:
        """Save to ``path`` (or the current file).

        Raises:
            ValueError: no path was given and the project has none.
        """
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no project file to save to")
        if ui_state is not None:
            self.ui_state = dict(ui_state)
        write_project(target, self.spec, self.ui_state)
        self._set_path(target.resolve())
        self._set_dirty(False)
        return target

    # --------------------------------------------------------------- edits
    def touch(self, section: str, modified: bool = True) -> None:
        """Record that a page edited ``section`` of the spec.

        Args:
            section: ``data``, ``backbone``, ``head``, ``freeze``, ``training`` or ``name``.
            modified: False when the page only re-derived what the file already says
                (after opening a project): the project does not become unsaved.
        """
        if modified:
            self._set_dirty(True)
        self.changed.emit(section)

    def set_blocker(self, area: str, reason: str | None) -> None:
        """Record why ``area`` keeps training from starting (``None``: it no longer does)."""
        if reason:
            if self.blockers.get(area) == reason:
                return
            self.blockers[area] = reason
        elif self.blockers.pop(area, None) is None:
            return
        self.readinessChanged.emit()

    def set_untrained_backbone(self, label: str | None) -> None:
        """Record that the chosen backbone has no pretrained weights (``label``) or has."""
        if label != self.untrained_backbone:
            self.untrained_backbone = label
            self.readinessChanged.emit()

    def spec_copy(self) -> ExperimentSpec:
        """Return a deep copy of the spec (for a worker thread to own)."""
        return copy.deepcopy(self.spec)

    @property
    def title(self) -> str:
        """The name shown in the window title."""
        if self.path:
            return self.path.stem
        return "Untitled" if self.spec.name in ("", ExperimentSpec().name) else self.spec.name

    def _set_path(self, path: Path | None) -> None:
        if path != self.path:
            self.path = path
            self.pathChanged.emit(path)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirtyChanged.emit(dirty)
