"""Alert events POSTed to a webhook, in order, through a bounded queue on disk.

Each event is first written as one file into the queue folder (numbered, so
the order survives a restart); a thread sends the oldest, and removes it only
once the receiver answered 2xx. A failed attempt is retried with exponential
backoff; the listening never waits for it. A full queue drops its oldest
events, and says so in an ``error`` event; a receiver that refuses an event
outright (4xx other than 408 and 429) has it dropped, also with an ``error``.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from aegan.errors import UsageError
from aegan.monitor.events import Event
from aegan.paths import write_text_atomic

RETRY_FIRST, RETRY_MAX = 0.5, 30.0
"""Backoff between failed attempts: from half a second, doubling, to at most 30 s."""

TIMEOUT = 10.0


def check_url(url: str) -> str:
    """Refuse a webhook that is not an http(s) URL, before listening starts."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"The webhook {url!r} is not an http(s) URL.",
            "Give e.g. --webhook https://alerts.example.com/aegan.",
        )
    return url


class Webhook:
    """The queue folder and its sending thread (``start``/``close``)."""

    def __init__(
        self, url: str, folder: Path, limit: int, on_error: Callable[[str], None],
        retry_first: float = RETRY_FIRST, retry_max: float = RETRY_MAX,
    ) -> None:  # fmt: skip
        self.url, self.folder, self.limit = check_url(url), Path(folder), max(1, limit)
        self.on_error = on_error
        self.retry_first, self.retry_max = retry_first, retry_max
        self.folder.mkdir(parents=True, exist_ok=True)
        self._wake = threading.Condition()
        self._stop = False
        self._next = max((int(p.stem) for p in self._queued()), default=-1) + 1
        self._thread = threading.Thread(target=self._run, name="aegan-webhook", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def send(self, event: Event) -> None:
        """Queue one event (never blocks on the network)."""
        with self._wake:
            write_text_atomic(self.folder / f"{self._next:012d}.json", event.to_json())
            self._next += 1
            queued = self._queued()
            excess = queued[: max(0, len(queued) - self.limit)]
            for old in excess:
                old.unlink(missing_ok=True)
            self._wake.notify_all()
        if excess:
            self.on_error(
                f"The webhook queue is full ({self.limit} events): the {len(excess)} oldest "
                f"alert events were dropped while {self.url} did not answer."
            )

    def pending(self) -> int:
        return len(self._queued())

    def _queued(self) -> list[Path]:
        return sorted(self.folder.glob("[0-9]*.json"))

    def _run(self) -> None:
        delay = self.retry_first
        while True:
            with self._wake:
                while not self._stop and not self._queued():
                    self._wake.wait()
                if self._stop:
                    return
                head = self._queued()[0]
            outcome = self._post(head)
            if outcome is None:  # not delivered: wait, then try again
                with self._wake:
                    self._wake.wait_for(lambda: self._stop, timeout=delay)
                delay = min(delay * 2, self.retry_max)
                continue
            head.unlink(missing_ok=True)
            delay = self.retry_first
            if outcome:
                self.delivered += 1

    def _post(self, path: Path) -> bool | None:
        """True when delivered; False when refused for good (dropped); None to retry."""
        try:
            body = path.read_bytes()
        except FileNotFoundError:  # dropped from a full queue meanwhile
            return False
        request = urllib.request.Request(
            self.url, body, {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
            return True
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                self.on_error(f"The webhook {self.url} refused an alert event (HTTP {exc.code}).")
                return False
            return None
        except (urllib.error.URLError, OSError):
            return None

    def close(self, timeout: float = 2.0) -> None:
        """Stop sending; what is still queued stays on disk for the next start."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
