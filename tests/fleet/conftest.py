"""Fleet fixtures: recordings of mixed kinds, and a Dask cluster of separate processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_tone

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recordings(tmp_path):
    """Six files: four long ones (timelines of 4 windows), one clip-long one, one broken."""
    folder = tmp_path / "recordings"
    for i in range(4):
        write_tone(folder / f"long{i}.wav", seconds=6.0, freq=300.0 + 50 * i, seed=i)
    write_tone(folder / "clip.wav", seconds=1.5, freq=500.0, seed=9)
    (folder / "broken.wav").write_text("not audio")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaskProcesses:
    """`dask scheduler` and `dask worker` as separate processes on 127.0.0.1, stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log_dir = folder
        self.home = folder / "home"  # the workers' AEGAN_HOME: tests that share it set it too
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "AEGAN_HOME": str(self.home)}

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT,
            env=self.env, cwd=self.log_dir,
        )  # fmt: skip
        log.close()
        self.processes.append(process)
        return process

    def start_scheduler(self) -> None:
        self._start(
            "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
            "--no-dashboard", "--no-show",
        )  # fmt: skip

    def start_worker(self, name: str) -> subprocess.Popen:
        """A worker of one thread and one GPU slot, without a nanny (so kill -9 ends it)."""
        return self._start(
            name, "worker", self.address, "--name", name, "--nthreads", "1", "--no-nanny",
            "--no-dashboard", "--host", "127.0.0.1", "--resources", "GPU=1",
        )  # fmt: skip

    def stop(self) -> None:
        """Workers first, then the scheduler (workers left alone would wait for it to return)."""
        workers, scheduler = self.processes[1:], self.processes[:1]
        for group in (workers, scheduler):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_for_workers(client, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} Dask workers did not join within {timeout} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    """A scheduler and two workers as separate processes; yields (processes, client)."""
    from distributed import Client

    cluster = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        cluster.start_scheduler()
        for name in ("w1", "w2"):
            cluster.start_worker(name)
        with Client(cluster.address, timeout=30) as client:
            wait_for_workers(client, 2)
            yield cluster, client
    finally:
        cluster.stop()
