"""Limits on model files as archives: refused by their declared sizes before extraction.

A ``.keras`` file is a zip archive and a weights file is HDF5, whose datasets may be
compressed: both can declare gigabytes that a few megabytes expand into (a decompression
bomb), or a ``config.json`` of a gigabyte. Every model file ftstudio reads (an import into
the library, a backbone file, a run's ``model.keras``) passes these checks first, through
:mod:`ftstudio.engine.model_files`; each refusal names the limit and the member that broke it.

Standard library at import time; h5py is imported by the HDF5 checks.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any

from ftstudio.errors import LibraryError
from ftstudio.formatting import format_bytes as _size

__all__ = ["MAX_CONFIG_BYTES", "MAX_MEMBERS", "MAX_RATIO", "MAX_TOTAL_BYTES",
           "check_h5_limits", "check_zip_limits", "check_zipped_weights"]

MAX_MEMBERS = 10_000
"""The most files a model archive may hold (a Keras model has a handful)."""
MAX_CONFIG_BYTES = 32 * 1024 * 1024
"""The largest ``config.json`` / ``metadata.json`` accepted (real ones are under 1 MB)."""
MAX_RATIO = 100
"""The most a member may expand (uncompressed / compressed), for members over 10 MB."""
MAX_TOTAL_BYTES = 64 * 1024 ** 3
"""The most a model archive may declare in all (far above any model ftstudio trains)."""
_RATIO_FLOOR = 10 * 1024 * 1024


def _refuse(path: Path, why: str) -> LibraryError:
    return LibraryError(f"{path.name} was refused before anything was extracted: {why}. A "
                        f"model file this shape is a decompression bomb or damaged, not a "
                        f"model; re-save the model with Keras and use that file")


def check_zip_limits(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse an archive by its declared sizes before any member is extracted.

    The limits: at most :data:`MAX_MEMBERS` members, :data:`MAX_TOTAL_BYTES` in all,
    :data:`MAX_CONFIG_BYTES` for a JSON member, and no member over 10 MB expanding more than
    :data:`MAX_RATIO` times. Python's ``zipfile`` (which Keras reads with) never yields more
    than a member's declared size, so the declared sizes bound what extraction can produce.

    Raises:
        LibraryError: naming the limit and the member that broke it.
    """
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise _refuse(path, f"it holds {len(members):,} files (at most {MAX_MEMBERS:,})")
    total = sum(m.file_size for m in members)
    if total > MAX_TOTAL_BYTES:
        raise _refuse(path, f"its files declare {_size(total)} in all (at most "
                            f"{_size(MAX_TOTAL_BYTES)})")
    for member in members:
        if member.filename.endswith(".json") and member.file_size > MAX_CONFIG_BYTES:
            raise _refuse(path, f"its {member.filename} declares {_size(member.file_size)} "
                                f"(at most {_size(MAX_CONFIG_BYTES)})")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR and ratio > MAX_RATIO:
            raise _refuse(path, f"its {member.filename} expands from "
                                f"{_size(member.compress_size)} to {_size(member.file_size)} "
                                f"({ratio:,.0f} times; at most {MAX_RATIO})")


def check_h5_limits(path: Path, handle: Any, size: int | None = None) -> None:
    """Refuse an HDF5 file whose datasets declare far more than the file holds.

    Chunked, compressed datasets can expand like a zip bomb; their declared sizes are read
    from the file's metadata without reading any data.

    Args:
        path: the file (named in the message).
        handle: the open ``h5py.File``.
        size: the file's size in bytes (default: ``path``'s size on disk).

    Raises:
        LibraryError: naming the dataset that broke the limits.
    """
    import h5py

    size = max(size if size is not None else path.stat().st_size, 1)
    declared: list[tuple[str, int, int]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            declared.append((name, int(obj.size) * int(obj.dtype.itemsize),
                             int(obj.id.get_storage_size())))

    handle.visititems(visit)
    total = sum(d[1] for d in declared)
    if total > MAX_TOTAL_BYTES:
        raise _refuse(path, f"its arrays declare {_size(total)} in all (at most "
                            f"{_size(MAX_TOTAL_BYTES)})")
    if total > _RATIO_FLOOR and total / size > MAX_RATIO:
        name, nbytes, stored = max(declared, key=lambda d: d[1])
        raise _refuse(path, f"its arrays expand from {_size(size)} to {_size(total)} "
                            f"({total / size:,.0f} times; at most {MAX_RATIO}), the largest "
                            f"'{name}' from {_size(stored)} to {_size(nbytes)}")


def check_zipped_weights(path: Path, archive: zipfile.ZipFile) -> None:
    """Check the HDF5 weights stored inside a ``.keras`` archive (:func:`check_h5_limits`).

    Keras stores members uncompressed, so the weights are read in place (a compressed member
    was already held to the expansion limit by :func:`check_zip_limits`).

    Raises:
        LibraryError: the weights declare far more than they hold, or are not HDF5.
    """
    import h5py

    for member in archive.infolist():
        if not member.filename.endswith(".h5") or member.compress_type != zipfile.ZIP_STORED:
            continue
        try:
            with _StoredMember(path, member) as handle, h5py.File(handle, "r") as h5:
                check_h5_limits(path, h5, member.file_size)
        except (OSError, ValueError) as exc:
            raise LibraryError(f"{path.name} is damaged: its {member.filename} is not "
                               f"readable HDF5 ({exc})") from exc


class _StoredMember(io.RawIOBase):
    """A read-only, seekable view of an uncompressed zip member, in place in the archive."""

    def __init__(self, path: Path, member: zipfile.ZipInfo) -> None:
        super().__init__()
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._fh.seek(member.header_offset)
        header = self._fh.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            self._fh.close()
            raise OSError("bad local header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        self._start = member.header_offset + 30 + name_len + extra_len
        self._size = member.file_size
        self._pos = 0

    def readable(self) -> bool:  # noqa: D102
        return True

    def seekable(self) -> bool:  # noqa: D102
        return True

    def tell(self) -> int:  # noqa: D102
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:  # noqa: D102
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:  # noqa: D102
        n = max(0, min(len(buffer), self._size - self._pos))
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:  # noqa: D102
        self._fh.close()
        super().close()
