"""All sinks of one source behind one object: the event log, window scores, snippets, webhook.

A sink that fails (a full disk, a folder made read-only) never stops the
listening: its failure becomes an ``error`` event, sent to the other sinks and
the subscribers, once per sink until it works again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from aegan.errors import AeganError, system_failure
from aegan.monitor.events import AlertClosed, AlertOpened, Error, Event, WindowScored
from aegan.monitor.sinks.eventlog import EventLog
from aegan.monitor.sinks.scores import ScoreTable
from aegan.monitor.sinks.snippets import Snippets
from aegan.monitor.sinks.webhook import Webhook

ALERT_EVENTS = (AlertOpened, AlertClosed)


class Outputs:
    """Where a source's events, scores and audio go; any part may be absent."""

    def __init__(
        self, source: str, emit: Callable[[Event], None], log: EventLog,
        scores: ScoreTable | None = None, snippets: Snippets | None = None,
        webhook: Webhook | None = None,
    ) -> None:  # fmt: skip
        self.source, self.emit = source, emit  # emit: the source's, to every sink and subscriber
        self.log, self.scores, self.snippets, self.webhook = log, scores, snippets, webhook
        self._failing: set[str] = set()

    def _guard(self, sink: str, call: Callable[[], Any]) -> Any:
        """Run one sink's work; a failure becomes one error event (until the sink recovers)."""
        try:
            result = call()
        except (AeganError, OSError) as exc:
            error = exc if isinstance(exc, AeganError) else system_failure(exc, f"write {sink}")
            if sink not in self._failing:  # once: an error event about the log fails the same way
                self._failing.add(sink)
                self.emit(
                    Error(self.source, f"{error.message} Listening goes on.", None, error.hint)
                )
            return None
        self._failing.discard(sink)
        return result

    def event(self, event: Event) -> None:
        self._guard("the event log", lambda: self.log.write(event))
        if self.scores is not None and isinstance(event, WindowScored):
            self._guard("window scores", lambda: self.scores.add(event))
        if self.webhook is not None and isinstance(event, ALERT_EVENTS):
            self._guard("the webhook queue", lambda: self.webhook.send(event))

    def audio(self, seq: int, file: str | None, offset: float, wave: np.ndarray) -> None:
        if self.snippets is not None:
            self.snippets.window(seq, file, offset, wave)

    def alert_opened(self, first_seq: int) -> None:
        if self.snippets is not None:
            self.snippets.opened(first_seq)

    def alert_closed(self, number: int, last_seq: int, start: str) -> str | None:
        if self.snippets is None:
            return None
        snippets = self.snippets
        return self._guard(
            "alert snippets", lambda: snippets.closed(self.source, number, last_seq, start)
        )

    def close(self) -> None:
        """Flush and close everything but the log (shared by sources; the monitor closes it)."""
        if self.webhook is not None:
            self.webhook.close()
        if self.scores is not None:
            self._guard("window scores", self.scores.close)


def webhook_errors(source: str, emit: Callable[[Event], None]) -> Callable[[str], None]:
    """The webhook's complaints as ``error`` events of its source."""
    return lambda message: emit(Error(source, message))
