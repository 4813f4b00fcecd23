"""The service's event log: the monitor's events numbered for Server-Sent Events.

Every event gets the next id (1, 2, ...); the latest ``capacity`` are kept, so
a client that reconnects with ``Last-Event-ID`` gets what it missed, and a new
client starts at the next event. Events arrive from the monitor's threads;
waiting streams are woken on their own event loop, and a stream that ends
(finished, timed out or its client gone) unregisters itself, so none is kept.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

KEPT_EVENTS = 5000
"""Events kept for resuming: hours of windows of a few sources at one window per 10 s."""

KEEP_ALIVE_SECONDS = 15.0
"""A comment line this often: proxies keep the stream open, and a gone client is noticed."""


class EventLog:
    """Numbered events, the latest kept; streams wait for new ones without polling."""

    def __init__(self, capacity: int = KEPT_EVENTS) -> None:
        self._events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=capacity)
        self._last = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def last_id(self) -> int:
        return self._last

    def append(self, event: dict[str, Any]) -> None:
        """Add an event (from any thread) and wake every waiting stream."""
        with self._lock:
            self._last += 1
            self._events.append((self._last, event))
            waiters = list(self._waiters)
        for loop, woken in waiters:
            loop.call_soon_threadsafe(woken.set)

    def after(self, last_id: int) -> list[tuple[int, dict[str, Any]]]:
        """The kept events with ids above ``last_id``, oldest first."""
        with self._lock:
            return [(i, e) for i, e in self._events if i > last_id]

    async def stream(self, last_id: int, seconds: float) -> AsyncIterator[str]:
        """SSE text: events after ``last_id``, then new ones as they come, for ``seconds``."""
        woken = asyncio.Event()
        waiter = (asyncio.get_running_loop(), woken)
        with self._lock:
            self._waiters.add(waiter)
        try:
            yield "retry: 1000\n\n"
            deadline = asyncio.get_running_loop().time() + seconds
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                woken.clear()
                for number, event in self.after(last_id):
                    last_id = number
                    yield sse(number, event)
                try:
                    await asyncio.wait_for(woken.wait(), min(left, KEEP_ALIVE_SECONDS))
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    @property
    def streams(self) -> int:
        """Streams open now."""
        return len(self._waiters)


def sse(number: int, event: dict[str, Any]) -> str:
    """One Server-Sent Event: its id, its kind as the event name, its JSON as the data."""
    data = json.dumps(event, separators=(",", ":"), allow_nan=False)
    return f"id: {number}\nevent: {event['event']}\ndata: {data}\n\n"


def last_event_id(header: str | None) -> int | None:
    """The id a reconnecting client sends; None when absent or not one of ours."""
    try:
        return int(header) if header is not None else None
    except ValueError:
        return None
