"""The dataclass-driven spec parser: JSON in and out, ``--set`` overrides, type checks.

A spec document is a dataclass whose field annotations say what each key may hold; the parser
walks those annotations, so a new field needs no parsing code. Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Self, Union, get_args, get_origin

from ftstudio.errors import SpecError

__all__ = ["JsonSpecMixin", "apply_override", "choices", "make_paths_absolute",
           "read_json_object"]


def choices(literal: Any) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` type, in their declared order.

    ``choices(Optimizer)`` -> ``('sgd', 'adam', 'adamw', 'adagrad', 'rmsprop')``: the one source
    for a window's or a parser's choice list.

    Raises:
        TypeError: ``literal`` is not a ``Literal[...]`` type.
    """
    if get_origin(literal) is not Literal:
        raise TypeError(f"choices() needs a Literal type, got {literal!r}")
    return tuple(str(value) for value in get_args(literal))


def read_json_object(path: str | Path, what: str = "spec file") -> dict[str, Any]:
    """Read a JSON file that must hold an object at the top level.

    Raises:
        SpecError: the file is missing or unreadable, not JSON, or not an object; the
            message names the file (``what`` says what kind of file it is).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(f"{what} not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {what} {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path} must hold a JSON object at the top level")
    return data


def make_paths_absolute(base: Path, fields: Iterable[tuple[object, str]]) -> None:
    """Make each ``(object, attribute)`` path absolute in place (relative ones against ``base``).

    Empty values stay empty; ``~`` is expanded.
    """
    for obj, attr in fields:
        value = getattr(obj, attr)
        if value and not Path(value).expanduser().is_absolute():
            setattr(obj, attr, str((base / value).resolve()))
        elif value:
            setattr(obj, attr, str(Path(value).expanduser()))


class JsonSpecMixin:
    """JSON round-trip, file I/O and ``key=value`` overrides shared by the spec documents.

    A subclass is a dataclass with ``validate()`` and ``resolved(base)``.
    """

    def validate(self) -> None:  # pragma: no cover - every subclass overrides it
        """Check cross-field rules (raise SpecError)."""

    def resolved(self, base: Path) -> Self:  # pragma: no cover - every subclass overrides it
        """Return a copy whose relative paths are made absolute against ``base``."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain JSON-able data."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self, indent: int = 2) -> str:
        """Return the spec as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build and validate a spec from plain data.

        Raises:
            SpecError: naming the bad key and what is allowed there.
        """
        spec = _build(cls, data, "")
        spec.validate()
        return spec  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse and validate a JSON document."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
        if not isinstance(data, dict):
            raise SpecError("spec must be a JSON object at the top level")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> Self:
        """Read a spec file, apply ``key=value`` overrides, resolve relative paths.

        Relative paths (``data.path``, ``data.image_dir``, …) are resolved against the
        spec file's folder, so a spec works from any working directory.
        """
        path = Path(path)
        data = read_json_object(path)
        for item in overrides or []:
            apply_override(data, item, cls)
        return cls.from_dict(data).resolved(path.resolve().parent)

    def save(self, path: str | Path) -> None:
        """Write the spec as JSON (atomically)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        tmp.replace(path)


def apply_override(data: dict[str, Any], item: str, schema: Any = None) -> None:
    """Apply one ``dotted.key=value`` override to raw spec data in place.

    The value is parsed as JSON when it can be (numbers, true/false, null, lists),
    otherwise taken as a string: ``training.epochs=2``, ``data.path=reviews.csv``.

    Args:
        data: the raw spec data.
        item: the ``key=value`` text.
        schema: the spec's dataclass; with it, a plain value given for a whole section
            (``--set training=3``) is refused right here, naming that override rather than
            a later one that looks inside the section.

    Raises:
        SpecError: the item is not of the ``key=value`` form, or replaces a section by a
            value, or looks inside a key that is not a section.
    """
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError(f"--set expects key=value (for example training.epochs=2), got {item!r}")
    try:
        value: Any = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        value = raw
    parts = key.split(".")
    if schema is not None:
        _check_section_value(schema, parts, value, item)
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[:i + 1])
            raise SpecError(f"--set {key}: '{where}' is not a section (it holds "
                            f"{_short(child)}), so it has no key '{parts[i + 1]}'")
        node = child
    node[parts[-1]] = value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_section_value(schema: Any, parts: list[str], value: Any, item: str) -> None:
    """Refuse a non-object value for a key that names a section of ``schema``."""
    cls = schema
    for part in parts:
        if not dataclasses.is_dataclass(cls):
            return
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return  # an unknown key: from_dict names it with the allowed ones
        cls = typing.get_type_hints(cls)[part]
    if dataclasses.is_dataclass(cls) and not isinstance(value, dict):
        key = ".".join(parts)
        first = dataclasses.fields(cls)[0].name
        raise SpecError(f"--set {item}: '{key}' is a section of the spec, not a single value; "
                        f"set one of its keys instead, e.g. --set {key}.{first}=…")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return "an object"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, str(tp))


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a SpecError naming ``key``."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            try:
                return _coerce(arg, value, key)
            except SpecError:
                continue
        raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise SpecError(f"{key} must be null, got {value!r}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")
        (arg,) = get_args(tp)
        return [_coerce(arg, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{key} must be an object, got {value!r}")
        _, val_tp = get_args(tp)
        return {str(k): _coerce(val_tp, v, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise SpecError(f"{key} must be an object, got {value!r}")
        return _build(tp, value, key + ".")
    return _coerce_scalar(tp, value, key)


def _coerce_scalar(tp: Any, value: Any, key: str) -> Any:
    """Check a JSON scalar against ``bool`` / ``int`` / ``float`` / ``str``."""
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a field type this parser does not know is a bug
        raise TypeError(f"unsupported spec field type {tp!r}")
    raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = prefix.rstrip(".") or "the spec"
        # repr() keeps the message one line when a key holds a newline or control character
        raise SpecError(f"unknown key {prefix + unknown[0]!r} in {where}; allowed: "
                        f"{', '.join(fields)}")
    kwargs = {name: _coerce(hints[name], value, prefix + name) for name, value in data.items()}
    return cls(**kwargs)
