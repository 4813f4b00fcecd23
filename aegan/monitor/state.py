"""What a source has done, kept in a state file written atomically after each batch.

For a folder: the files already scored (by size and modification time), and
how many windows of the file in hand; for every source: the window count, and
the alert rule's memory (the last n windows, an open episode), so that a
restarted monitor continues where it stopped.

Before a batch's events are written, the state names the batch ("in flight");
after, it holds the batch's progress. A monitor killed in between finds, on
restart, which of the batch's windows reached the event log, and takes those
as done (replaying them through the alert rule): no window is reported twice,
and the others are scored again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aegan.errors import system_failure
from aegan.monitor.alerts import AlertRule, AlertTracker, Episode
from aegan.monitor.events import WindowScored, event_from_dict
from aegan.paths import write_text_atomic

VERSION = 1


@dataclass
class SourceState:
    """A source's progress (see the module docstring)."""

    seq: int = 0  # windows delivered so far
    files: dict[str, list[int]] = field(default_factory=dict)  # relative path: [size, mtime_ns]
    current: str | None = None  # the file in hand
    current_windows: int = 0  # its windows delivered
    tracker: dict[str, Any] | None = None
    inflight: dict[str, Any] | None = None  # the batch being delivered: {"seq", "windows"}

    def to_json(self) -> str:
        return json.dumps({"version": VERSION, **self.__dict__}, separators=(",", ":"))


def load_state(path: Path) -> SourceState:
    """The saved state, or a fresh one where there is none (or it cannot be read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return SourceState()
    if not isinstance(data, dict) or data.pop("version", None) != VERSION:
        return SourceState()
    known = set(SourceState.__dataclass_fields__)
    return SourceState(**{k: v for k, v in data.items() if k in known})


def save_state(path: Path, state: SourceState) -> None:
    try:
        write_text_atomic(path, state.to_json())
    except OSError as exc:
        raise system_failure(exc, f"write the watch state {path}", path) from None


def tracker_state(tracker: AlertTracker) -> dict[str, Any]:
    episode = tracker.episode
    return {
        "recent": [w.to_dict() for _, w in tracker.recent],
        "episode": None if episode is None else {
            "number": episode.number, "anomalous": episode.anomalous, "windows": episode.windows,
            "first": episode.first.to_dict(), "last": episode.last.to_dict(),
            "worst": episode.worst.to_dict(),
        },
        "normal_run": tracker.normal_run,
        "pending_normal": tracker.pending_normal,
        "episodes": tracker.episodes,
    }  # fmt: skip


def restored_tracker(rule: AlertRule, data: dict[str, Any] | None) -> AlertTracker:
    """A tracker as it was saved, or a fresh one (also when the rule changed since)."""
    tracker = AlertTracker(rule)
    if not data:
        return tracker
    recent = [event_from_dict(d) for d in data["recent"]][-rule.n :]
    tracker.recent.extend((w.anomalous, w) for w in recent if isinstance(w, WindowScored))
    if data["episode"]:
        e = data["episode"]
        tracker.episode = Episode(
            e["number"], event_from_dict(e["first"]), event_from_dict(e["last"]),
            event_from_dict(e["worst"]), e["anomalous"], e["windows"],
        )  # fmt: skip
    tracker.normal_run = data["normal_run"]
    tracker.pending_normal = data["pending_normal"]
    tracker.episodes = data["episodes"]
    return tracker


TAIL_BYTES = 1 << 20
"""How much of the event log's end is read to find a batch in flight (many batches' worth)."""


def delivered_in_flight(state: SourceState, log: Path, source: str) -> list[dict[str, Any]]:
    """The logged window events of the batch in flight (by seq, in order), as dicts."""
    if not state.inflight:
        return []
    from aegan.monitor.sinks.eventlog import tail_event_dicts

    first, count = state.inflight["seq"], len(state.inflight["windows"])
    found = {}
    for data in tail_event_dicts(log, TAIL_BYTES):
        seq = data.get("seq")
        if data.get("source") == source and isinstance(seq, int) and first <= seq < first + count:
            found[seq] = data
    return [found[s] for s in sorted(found)]
