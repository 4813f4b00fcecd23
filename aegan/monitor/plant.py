"""Several sources from one YAML file (``aegan watch --config plant.yaml``).

    heartbeat: 60                 # seconds between heartbeats (optional)
    defaults: {model: fan22, alert: 3/5, clear: 5}   # any source key (optional)
    sources:
      - name: pump-1
        folder: /data/pump1       # or stream: "-" (with format/rate/channels), or device: "USB"
        model: fan22
        hop: 5
        webhook: https://alerts.example.com/aegan

Every key of a source: name, folder | stream | device, model, hop, alert, clear,
from_start, settle, poll, max_backlog, format, rate, channels, events, out,
scores, snippets, snippets_max_mb, webhook. A mistake is one message naming
the source and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aegan.errors import UsageError, did_you_mean
from aegan.monitor.alerts import AlertRule
from aegan.monitor.spec import PcmFormat, Sinks, SourceSpec

KINDS = ("folder", "stream", "device")
SOURCE_KEYS = {
    *KINDS, "name", "model", "hop", "alert", "clear", "from_start", "settle", "poll",
    "max_backlog", "format", "rate", "channels", "events", "out", "scores", "snippets",
    "snippets_max_mb", "webhook",
}  # fmt: skip


@dataclass(frozen=True)
class Plant:
    """What a plant file describes."""

    sources: list[SourceSpec]
    heartbeat: float | None


def load_plant(path: Path) -> Plant:
    """The sources of a plant file, each checked; a bad file is a UsageError naming it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read the config file {path}: {exc.strerror}.") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}.") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("sources"), list)
        or not data["sources"]
    ):
        raise UsageError(
            f"{path} lists no sources.",
            "Give a list under 'sources:', each with a name, a folder/stream/device and a model.",
        )
    unknown = set(data) - {"sources", "defaults", "heartbeat"}
    if unknown:
        raise UsageError(
            f"{path}: unknown key {sorted(unknown)[0]!r} (use sources, defaults, heartbeat)."
        )
    defaults = data.get("defaults") or {}
    specs = [
        source_spec({**defaults, **entry} if isinstance(entry, dict) else entry, path, i)
        for i, entry in enumerate(data["sources"])
    ]
    heartbeat = data.get("heartbeat")
    return Plant(specs, None if heartbeat is None else _number(heartbeat, "heartbeat", path))


def source_spec(entry: Any, path: Path, index: int) -> SourceSpec:
    """One source of the file as a spec."""
    where = f"{path}, source {index + 1}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where} is not a mapping of keys to values.")
    name = str(entry.get("name", ""))
    where = f"{path}, source {name!r}" if name else where
    for key in entry:
        if key not in SOURCE_KEYS:
            raise UsageError(f"{where}: unknown key {key!r}.", did_you_mean(str(key), SOURCE_KEYS))
    kinds = [k for k in KINDS if k in entry]
    if len(kinds) != 1 or not name or "model" not in entry:
        raise UsageError(
            f"{where} needs a name, a model and one of folder, stream or device.",
            "e.g. {name: pump-1, folder: /data/pump1, model: fan22}",
        )
    kind = kinds[0]
    pcm = None
    if "format" in entry:
        pcm = PcmFormat(
            str(entry["format"]), int(entry.get("rate", 16000)), int(entry.get("channels", 1))
        )
    out = entry.get("out")
    sinks = Sinks(
        folder=None if out is None else Path(out).expanduser(),
        events=None if entry.get("events") is None else Path(entry["events"]).expanduser(),
        scores=bool(entry.get("scores", True)), snippets=bool(entry.get("snippets", True)),
        snippets_max_mb=_number(entry.get("snippets_max_mb", 200), "snippets_max_mb", where),
        webhook=entry.get("webhook"),
    )  # fmt: skip
    return SourceSpec(
        name=name, kind=kind, target=str(entry[kind]), model=str(entry["model"]),
        hop=None if entry.get("hop") is None else _number(entry["hop"], "hop", where),
        rule=AlertRule.parse(str(entry.get("alert", "3/5")), entry.get("clear")), pcm=pcm,
        from_start=bool(entry.get("from_start", False)),
        settle=_number(entry.get("settle", 2.0), "settle", where), poll=bool(entry.get("poll", False)),
        max_backlog=None if entry.get("max_backlog") is None
        else _number(entry["max_backlog"], "max_backlog", where),
        sinks=sinks,
    )  # fmt: skip


def _number(value: Any, key: str, where: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {key} must be a number, not {value!r}.") from None
