"""A real service for the tests: uvicorn on a free loopback port, in a thread, stopped after."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from aegan.model.detector import Detector
from aegan.serve.config import ServeConfig
from aegan.serve.server import Server
from aegan.serve.service import Loader

TOKEN = "test-token-0123456789abcdef"
START_SECONDS = 30


@dataclass
class Running:
    """A started service: its base URL, the server object and a client bound to it."""

    url: str
    server: Server
    client: httpx.Client

    @property
    def folder(self) -> Path:
        return self.server.folder


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running(
    config: ServeConfig, *, loader: Loader = Detector.load, wait_ready: bool = True
) -> Iterator[Running]:
    """The service started on a socket of its own; stopped, and its thread joined, after."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = Server(replace(config, port=port), loader, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            deadline = time.monotonic() + START_SECONDS
            while not server.uvicorn.started or (wait_ready and not server.service.ready.is_set()):
                assert thread.is_alive() and time.monotonic() < deadline, (
                    "the service did not start"
                )
                time.sleep(0.02)
            yield Running(url, server, client)
    finally:
        server.stop()
        thread.join(START_SECONDS)
        sock.close()
        assert not thread.is_alive()


@pytest.fixture
def service(small_bundle) -> Iterator[Running]:
    with running(ServeConfig(models=(str(small_bundle),))) as served:
        yield served


class Gate:
    """Holds the scoring worker inside its network pass until opened: a deterministic busy
    service. ``entered`` is set once a batch waits at the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def loader(self, spec: str) -> Detector:
        detector = Detector.load(spec)
        passes = detector.score_spectrograms

        def held(*args, **kwargs):
            self.entered.set()
            assert self.opened.wait(START_SECONDS), "the test never opened the gate"
            return passes(*args, **kwargs)

        detector.score_spectrograms = held
        return detector


@pytest.fixture
def gate() -> Iterator[Gate]:
    held = Gate()
    yield held
    held.opened.set()  # a failing test must not leave the worker waiting
