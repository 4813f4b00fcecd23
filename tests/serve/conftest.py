"""A real service for the tests: uvicorn on a free loopback port, in a thread, stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from aegan.detector.detector import Detector
from aegan.serve.config import ServeConfig
from aegan.serve.server import Server
from aegan.serve.service import Loader
from tests.conftest import aegan_home_at

TOKEN = "test-token-0123456789abcdef"
START_SECONDS = 30
WAIT_SECONDS = 60


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


def _plant(tmp_path: Path, synth22: Path) -> Path:
    """One folder source with clips already in it, a minute apart: four machine clips, two
    loud 3-kHz whistles (far above the threshold) and one more machine clip."""
    folder = tmp_path / "pump-1"
    folder.mkdir()
    clips = sorted((synth22 / "dev_data/fan/test").glob("*normal*.wav"))[:5]
    whistle = 0.8 * np.sin(2 * np.pi * 3000 * np.arange(24000) / 16000)
    start = time.time() - 3600
    for minute in range(7):
        path = folder / f"{minute:02d}.wav"
        if minute in (4, 5):
            sf.write(str(path), whistle, 16000, subtype="PCM_16")
        else:
            shutil.copy(clips[min(minute, 4)], path)
        os.utime(path, (start + 60 * minute, start + 60 * minute))
    plant = tmp_path / "plant.yaml"
    plant.write_text(
        f"heartbeat: 1\nsources:\n  - {{name: pump-1, folder: {folder}, model: fan-small,"
        " from_start: true, alert: 1/2, clear: 2, snippets: false, scores: false,"
        f" out: {tmp_path / 'watch'}}}\n"  # the log and state beside the plant, not in a home
    )
    return plant


@pytest.fixture(scope="module")
def plant_service(small_bundle, synth22, tmp_path_factory) -> Iterator[Running]:
    """A service watching one folder source (``_plant``), once it has scored what is there."""
    folder = tmp_path_factory.mktemp("plant")
    config = ServeConfig(models=(str(small_bundle),), watch=_plant(folder, synth22))
    with aegan_home_at(folder / "home"), running(config) as served:  # module-long: its own home
        deadline, counts = time.monotonic() + WAIT_SECONDS, []
        while len(counts) < 15 or counts[-1] < 7 or counts[-15] != counts[-1]:  # 1.5 s still
            assert time.monotonic() < deadline, "the source did not settle"
            counts.append(served.client.get("/v1/sources").json()["sources"][0]["windows_scored"])
            time.sleep(0.1)
        yield served
