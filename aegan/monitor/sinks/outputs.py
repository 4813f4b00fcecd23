"""All sinks of one source behind one object: the event log, window scores, snippets, webhook."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aegan.monitor.events import AlertClosed, AlertOpened, Error, Event, WindowScored
from aegan.monitor.sinks.eventlog import EventLog
from aegan.monitor.sinks.scores import ScoreTable
from aegan.monitor.sinks.snippets import Snippets
from aegan.monitor.sinks.webhook import Webhook

ALERT_EVENTS = (AlertOpened, AlertClosed)


class Outputs:
    """Where a source's events, scores and audio go; any part may be absent."""

    def __init__(
        self, log: EventLog, scores: ScoreTable | None = None, snippets: Snippets | None = None,
        webhook: Webhook | None = None,
    ) -> None:  # fmt: skip
        self.log, self.scores, self.snippets, self.webhook = log, scores, snippets, webhook

    def event(self, event: Event) -> None:
        self.log.write(event)
        if self.scores is not None and isinstance(event, WindowScored):
            self.scores.add(event)
        if self.webhook is not None and isinstance(event, ALERT_EVENTS):
            self.webhook.send(event)

    def audio(self, start_ts: float, seconds: float, wave: np.ndarray) -> None:
        if self.snippets is not None:
            self.snippets.window(start_ts, seconds, wave)

    def alert_opened(self, start: str) -> None:
        if self.snippets is not None:
            self.snippets.opened(start)

    def alert_closed(self, source: str, number: int, end: str) -> str | None:
        return None if self.snippets is None else self.snippets.closed(source, number, end)

    def close(self) -> None:
        """Flush and close everything but the log (shared by sources; the monitor closes it)."""
        if self.webhook is not None:
            self.webhook.close()
        if self.scores is not None:
            self.scores.close()


def webhook_errors(source: str, emit: Callable[[Event], None]) -> Callable[[str], None]:
    """The webhook's complaints as ``error`` events of its source."""
    return lambda message: emit(Error(source, message))
