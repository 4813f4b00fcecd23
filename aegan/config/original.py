"""The original AEGAN-AD config files, read as aegan config values.

The research code's users hold its YAML files (``dcase20/config.yaml``,
``dcase22/config.yaml``, ``pretrain/<machine>_cfg.yaml``). A ``--config`` file
may use their keys: each is renamed to the aegan key it means, and a key aegan
has no use for (paths of the original's folders) is named in a note saying what
aegan does instead. The table of keys is data, ``original_keys.yaml``. Keys
that are aegan's own pass through unchanged, so one file may mix both.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from aegan.config.keys import flatten
from aegan.errors import ConfigError

TABLE_FILE = "original_keys.yaml"
_ABSENT = object()


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("aegan.config").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _pop(data: dict[str, Any], dotted: str) -> Any:
    """Remove and return the value at a dotted key of a nested mapping (``_ABSENT`` if none)."""
    *parents, name = dotted.split(".")
    for part in parents:
        data = data.get(part)
        if not isinstance(data, dict):
            return _ABSENT
    return data.pop(name, _ABSENT)


def _weights(key: str, value: Any, targets: Mapping[str, str], source: str) -> dict[str, Any]:
    """``{mu: 1}`` as every aegan weight it sets; a weight left out is 0, as the original reads it."""
    if not isinstance(value, Mapping) or not set(value) <= set(targets):
        raise ConfigError(
            f"{source}: {key} must map {' and/or '.join(targets)} to weights; got {value!r}.",
            f"E.g. {key}: {{mu: 1, sigma: 1}}.",
        )
    return {target: value.get(name, 0) for name, target in targets.items()}


def _items(key: str, value: Any, targets: list[str], source: str) -> dict[str, Any]:
    """A list (``act: [leakyrelu, relu]``) as the aegan keys its items set, in order."""
    if not isinstance(value, list) or len(value) != len(targets):
        raise ConfigError(
            f"{source}: {key} must list {len(targets)} values ({', '.join(targets)}); "
            f"got {value!r}.",
            "E.g. act: [leakyrelu, relu] (encoder and critic, then decoder).",
        )
    return dict(zip(targets, value, strict=True))


def _machine(key: str, value: Any, before: str | None, source: str) -> str:
    """The one machine type an ``mt`` list names (an aegan model is of one machine type)."""
    names = value if isinstance(value, list) else [value]
    if len(names) != 1 or (before is not None and str(names[0]).lower() != before.lower()):
        raise ConfigError(
            f"{source}: {key} lists {value!r}; an aegan model trains and tests on one "
            "machine type, the command's.",
            "Give one machine type, the same in mt.train and mt.test, or remove the mt keys.",
        )
    return str(names[0])


def _fixed(key: str, value: Any, fact: Mapping[str, Any], source: str) -> None:
    if value != fact["value"]:
        raise ConfigError(
            f"{source} sets {key} to {value!r}, but aegan works with {fact['value']!r} only: "
            f"{fact['why']}.",
            f"Remove {key} from the file.",
        )


def translate(data: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """Dotted aegan keys of a config file's nested mapping, and notes on the keys not applied.

    ``source`` names the file in messages ("Config file pretrain/fan_cfg.yaml").
    """
    table = _table()
    nested = copy.deepcopy(dict(data))
    values: dict[str, Any] = {}
    for key, targets in table["together"].items():
        weights = _pop(nested, key)
        if weights is not _ABSENT:
            values.update(_weights(key, weights, targets, source))
    notes = []
    for key, value in flatten(nested).items():
        if key in table["renamed"]:
            values[table["renamed"][key]] = value
        elif key in table["split"]:
            values.update(_items(key, value, table["split"][key], source))
        elif key in table["machine"]:
            values["machine"] = _machine(key, value, values.get("machine"), source)
        elif key in table["fixed"]:
            _fixed(key, value, table["fixed"][key], source)
        elif key in table["unused"]:
            notes.append(f"{source}: {key} is not used: {table['unused'][key]}.")
        else:
            values[key] = value
    return values, notes
