"""Dotted config keys and the YAML engine under every config and settings file.

A config object is a tree of dataclasses; ``train.epochs`` names a field of a
section. Values from YAML files and ``--set key=value`` are converted to the
field's type and checked here, and a wrong key is named with the close ones.
A field may carry a check in its metadata (``within``, ``checked``): it runs
every time the key is set, so a bad value is refused where it enters (a
``--set``, ``aegan config set``, a config file, a bundle's saved config), not
after an epoch of NaN. Every float must be finite.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from aegan.errors import ConfigError, did_you_mean, first_line

Check = Callable[[str, Any], None]
"""Raises ``ConfigError`` naming the key, the value and what is allowed."""


def checked(check: Check) -> dict[str, Check]:
    """Field metadata that runs ``check`` whenever the key is set."""
    return {"check": check}


def _text(bound: float) -> str:
    """A bound as a user would write it: 4294967295, not 4.29497e+09."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def within(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> dict[str, Check]:
    """Field metadata bounding a number: ``within(0, low_open=True)`` is > 0."""
    if low is not None and high is not None:
        allowed = (
            f"in {'(' if low_open else '['}{_text(low)}, {_text(high)}{')' if high_open else ']'}"
        )
    elif low is not None:
        allowed = f"{'>' if low_open else '>='} {_text(low)}"
    else:
        allowed = f"{'<' if high_open else '<='} {_text(high)}"

    def check(key: str, value: Any) -> None:
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise ConfigError(
                f"Config key {key!r} must be {allowed}; got {value!r}.",
                "Fix the value in the config file or in --set.",
            )

    return checked(check)


def _run_check(owner: Any, name: str, key: str, value: Any) -> None:
    if value is None:
        return
    for item in dataclasses.fields(owner):
        if item.name == name and "check" in item.metadata:
            item.metadata["check"](key, value)


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Convert a YAML or command-line value to a field's type, or say which key is wrong."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if set(args) == {int, str}:  # a number or a word (feat.channel: 0 or "mix")
            return _number_or_word(value, key)
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "")):
            return None
        return _coerce(value, args[0], key)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(
                    f"Config key {key!r} must be a finite number; got {value!r}.",
                    "Fix the value in the config file or in --set.",
                )
            return number
        if kind is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        raise ConfigError(f"Config key {key!r} has an unsupported type.")  # pragma: no cover
    type_name = getattr(kind, "__name__", str(kind))
    raise ConfigError(
        f"Config key {key!r} must be of type {type_name}, got {value!r}.",
        "Fix the value in the config file or in --set.",
    )


def _number_or_word(value: Any, key: str) -> int | str:
    """A whole number as an int (``0``, ``"1"`` from --set), any other word as text."""
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text.isdigit():
        return int(text)
    if text:
        return text
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(
        f"Config key {key!r} must be a whole number or a word, got {value!r}.",
        "Fix the value in the config file or in --set.",
    )


def _section_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(kind: Any) -> bool:
    return dataclasses.is_dataclass(kind)


def known_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key a config class accepts (for messages and completion)."""
    keys: list[str] = []
    for name, kind in _section_types(cls).items():
        if _is_section(kind):
            keys.extend(known_keys(kind, f"{prefix}{name}."))
        else:
            keys.append(prefix + name)
    return keys


def set_key(obj: Any, key: str, value: Any, root_cls: type | None = None) -> None:
    """Set a dotted key on a config object, converting and checking the value."""
    parts = key.split(".")
    target = obj
    for part in parts[:-1]:
        fields = _section_types(type(target))
        if part not in fields or not _is_section(fields[part]):
            _unknown_key(key, root_cls or type(obj))
        target = getattr(target, part)
    fields = _section_types(type(target))
    name = parts[-1]
    if name not in fields or _is_section(fields[name]):
        _unknown_key(key, root_cls or type(obj))
    converted = _coerce(value, fields[name], key)
    _run_check(target, name, key, converted)
    setattr(target, name, converted)


def _unknown_key(key: str, cls: type) -> typing.NoReturn:
    keys = known_keys(cls)
    hint = did_you_mean(key, keys, otherwise=f"Known keys: {', '.join(keys)}.")
    raise ConfigError(f"Unknown config key {key!r}.", hint)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML mapping to dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from --set; the value is read as YAML (so lists and null work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"Cannot read --set {text!r}.", "Write it as key=value, e.g. --set train.epochs=10."
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def read_yaml(path: Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"Config file {path} does not exist.", "Check the path given to --config."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {_yaml_problem(exc)}.") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"Config file {path} must hold a mapping of keys to values.")
    return dict(data)


def _yaml_problem(exc: Exception) -> str:
    """Where and what, in one line (PyYAML's own text spans several with a caret drawing)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or first_line(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)
