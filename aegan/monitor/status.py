"""A source's state at a glance, for live views (the terminal, ``aegan serve``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aegan.monitor.events import WindowScored

if TYPE_CHECKING:
    from aegan.monitor.pipeline import SourceRuntime


@dataclass(frozen=True)
class SourceStatus:
    """What a source shows now."""

    name: str
    what: str
    model: str
    state: str  # "alert" while an episode is open, else "normal"; "ended" once it ended
    last_score: float | None
    last_time: str | None  # UTC end of the last window
    threshold: float
    windows_scored: int
    alerts_today: int
    backlog_seconds: float
    dropped_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_status(runtime: SourceRuntime) -> SourceStatus:
    last = runtime.last
    with runtime.lock:
        open_alert = runtime.tracker.episode is not None
        alerts = runtime.alerts_today.get(last.place.start[:10], 0) if last is not None else 0
    state = "ended" if runtime.finished.is_set() and not runtime.pending else "normal"
    return SourceStatus(
        name=runtime.name, what=runtime.spec.what, model=runtime.spec.model,
        state="alert" if open_alert else state,
        last_score=last.score if isinstance(last, WindowScored) else None,
        last_time=None if last is None else last.place.end, threshold=runtime.threshold,
        windows_scored=runtime.windows_scored, alerts_today=alerts,
        backlog_seconds=runtime.backlog_seconds, dropped_seconds=runtime.dropped_seconds,
    )  # fmt: skip
