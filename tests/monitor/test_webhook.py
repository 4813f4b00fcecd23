"""The webhook: a receiver that fails, then recovers, gets each alert event once, in order."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aegan.errors import UsageError
from aegan.monitor.events import Error
from aegan.monitor.sinks.webhook import Webhook, check_url


class Receiver:
    """An HTTP server on 127.0.0.1 that answers 503 to the first ``failures`` POSTs."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures, self.status, self.bodies, self.attempts = failures, status, [], 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(receiver.status)
                else:
                    receiver.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def events(n: int) -> list[Error]:
    return [Error("pump", f"event {i}") for i in range(n)]


def test_events_queued_during_an_outage_arrive_once_and_in_order(tmp_path):
    errors = []
    with Receiver(failures=4) as receiver:
        hook = Webhook(receiver.url, tmp_path / "q", 100, errors.append, 0.01, 0.05)
        hook.start()
        try:
            for event in events(6):
                hook.send(event)
            until(lambda: len(receiver.bodies) == 6)
        finally:
            hook.close()
    assert [b["message"] for b in receiver.bodies] == [f"event {i}" for i in range(6)]
    assert receiver.attempts == 10 and errors == [] and hook.pending() == 0


def test_the_queue_survives_a_restart_and_a_dead_receiver_never_blocks_sending(tmp_path):
    dead = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    hook = Webhook(dead, tmp_path / "q", 100, [].append, 0.01, 0.05)
    hook.start()
    started = time.monotonic()
    for event in events(3):
        hook.send(event)
    assert time.monotonic() - started < 1.0
    hook.close()
    assert hook.pending() == 3
    with Receiver(failures=0) as receiver:
        again = Webhook(receiver.url, tmp_path / "q", 100, [].append, 0.01, 0.05)
        again.start()
        try:
            again.send(Error("pump", "event 3"))
            until(lambda: len(receiver.bodies) == 4)
        finally:
            again.close()
    assert [b["message"] for b in receiver.bodies] == [f"event {i}" for i in range(4)]


def test_a_full_queue_drops_its_oldest_and_says_so(tmp_path):
    errors = []
    hook = Webhook("http://127.0.0.1:9/hook", tmp_path / "q", 2, errors.append)
    for event in events(3):
        hook.send(event)
    assert hook.pending() == 2
    assert errors == [
        "The webhook queue is full (2 events): the 1 oldest alert events were dropped while "
        "http://127.0.0.1:9/hook did not answer."
    ]


def test_an_event_refused_outright_is_dropped_with_an_error_and_the_next_goes_on(tmp_path):
    errors = []
    with Receiver(failures=1, status=400) as receiver:
        hook = Webhook(receiver.url, tmp_path / "q", 100, errors.append, 0.01, 0.05)
        hook.start()
        try:
            for event in events(2):
                hook.send(event)
            until(lambda: len(receiver.bodies) == 1)
        finally:
            hook.close()
    assert [b["message"] for b in receiver.bodies] == ["event 1"]
    assert errors == [f"The webhook {receiver.url} refused an alert event (HTTP 400)."]


@pytest.mark.parametrize("url", ["ftp://x/y", "localhost:8000", ""])
def test_a_webhook_that_is_not_http_is_refused_before_listening(url):
    with pytest.raises(UsageError, match="is not an http"):
        check_url(url)
