"""User-facing errors shared by every layer (standard library only).

An :class:`FtStudioError` carries a message meant for the user: the CLI prints it as one
line and the window shows it in a dialog. Anything else that escapes is a bug.
"""

from __future__ import annotations


class FtStudioError(Exception):
    """An error caused by the user's input, with a message that says what to do."""


class SpecError(FtStudioError):
    """The experiment spec is invalid (unknown key, wrong type, bad value)."""


class DataError(FtStudioError):
    """The data cannot be used as asked (missing column, one class only, …)."""


class BackboneError(FtStudioError):
    """The backbone cannot be found or loaded."""


class RunError(FtStudioError):
    """A run folder is missing, incomplete or cannot be resumed."""


class StorageError(RunError):
    """Writing a run's files failed (disk full, read-only or failing disk); files kept intact."""


class CancelledError(FtStudioError):
    """The user stopped a job before it finished."""


class LibraryError(BackboneError):
    """A library operation cannot be done as asked (unknown entry, bad file, refused model)."""


class ExportError(FtStudioError):
    """An export cannot be written or did not match the studio's predictions."""


class InjectedCrash(BaseException):  # noqa: N818 - it stands for a crash, not an error
    """Tests only: a simulated kill raised by ``FTSTUDIO_FAULT`` (no handler may record it)."""
