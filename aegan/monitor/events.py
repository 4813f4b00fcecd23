"""The events a monitor emits: typed records, one JSON object per line in the event log.

Every event names its source and the wall-clock time it was made. Times on a
source's own timeline (``start``, ``end``) are UTC too: for a stream or a sound
card, when the samples arrived (the stream's start plus its offset); for a
folder's file, its modification time less its duration, plus the offset. The
format is documented for readers in docs/events.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, ClassVar


def iso(timestamp: float) -> str:
    """A Unix time as ISO 8601 UTC with milliseconds: 2026-12-04T18:41:19.123Z."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """The Unix time of an ``iso`` string."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class Event:
    """Common fields: the source's name and when the event was made (UTC)."""

    kind: ClassVar[str] = "event"
    source: str
    time: str = field(default_factory=lambda: iso(time.time()), kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}

    def to_json(self) -> str:
        """One line of JSON (no newline inside): how the log, the webhook and stdout carry it."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class WindowPlace:
    """Where a window lies: its file (None for a stream), offset in it, and UTC span."""

    file: str | None
    offset: float  # seconds from the start of the file or stream
    start: str
    end: str


@dataclass(frozen=True)
class WindowScored(Event):
    """One window's score and decision (``seq`` counts the source's windows from 0)."""

    kind: ClassVar[str] = "window"
    seq: int
    place: WindowPlace
    score: float
    threshold: float
    anomalous: bool


@dataclass(frozen=True)
class Unusable(Event):
    """A window no score means anything for (silence, NaN, dropouts, clipping); no decision."""

    kind: ClassVar[str] = "unusable"
    seq: int
    place: WindowPlace
    reason: str


@dataclass(frozen=True)
class Worst:
    """The highest-scoring window of an alert."""

    seq: int
    place: WindowPlace
    score: float


@dataclass(frozen=True)
class AlertOpened(Event):
    """k of the last n windows were anomalous: an episode begins."""

    kind: ClassVar[str] = "alert_opened"
    alert: int  # the episode's number in this source, from 1
    rule: str  # "3/5, clear 5"
    start: str  # start of the episode's first anomalous window
    threshold: float
    anomalous_windows: int
    worst: Worst


@dataclass(frozen=True)
class AlertClosed(Event):
    """m normal windows in a row after an episode: it ends (``end``: its last anomalous window's end)."""

    kind: ClassVar[str] = "alert_closed"
    alert: int
    rule: str
    start: str
    end: str
    threshold: float
    anomalous_windows: int
    windows: int  # windows from the first anomalous one to the last, inclusive
    worst: Worst
    snippet: str | None = None


@dataclass(frozen=True)
class Heartbeat(Event):
    """Every few seconds: how much was scored, what waits, and how fast scoring is."""

    kind: ClassVar[str] = "heartbeat"
    windows_scored: int  # since the monitor started
    backlog_seconds: float  # audio received but not scored yet
    realtime_factor: float | None  # audio seconds scored per second of scoring work, last interval
    dropped_seconds: float  # audio dropped since the monitor started


@dataclass(frozen=True)
class Dropped(Event):
    """Audio received but never scored: scoring fell behind beyond the backlog bound, or the
    monitor stopped with windows of a stream waiting."""

    kind: ClassVar[str] = "dropped"
    start: str
    end: str
    seconds: float
    windows: int
    reason: str  # "backlog": scoring fell behind; "stopped": the monitor stopped first


@dataclass(frozen=True)
class Error(Event):
    """Something that could not be used (a file, the webhook...); watching goes on."""

    kind: ClassVar[str] = "error"
    message: str
    file: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class SourceStarted(Event):
    """A source begins listening."""

    kind: ClassVar[str] = "source_started"
    what: str  # "folder /data/pump", "stream -", "device 3"
    model: str
    window_seconds: float
    hop_seconds: float


@dataclass(frozen=True)
class SourceEnded(Event):
    """A source stopped: its stream ended, or the monitor was stopped."""

    kind: ClassVar[str] = "source_ended"
    reason: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (WindowScored, Unusable, AlertOpened, AlertClosed, Heartbeat, Dropped, Error,
                SourceStarted, SourceEnded)
}  # fmt: skip

_NESTED = {"place": WindowPlace, "worst": Worst}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The typed event of a parsed JSON line (as ``to_dict`` made it)."""
    cls = EVENT_TYPES[data["event"]]
    values = {}
    for f in fields(cls):
        value = data.get(f.name)
        if f.name in _NESTED and isinstance(value, dict):
            value = _NESTED[f.name](**value)
        values[f.name] = value
    return cls(**values)
