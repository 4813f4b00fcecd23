"""Running the service under uvicorn, with a private folder that goes when the server does."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import uvicorn

from aegan.monitor.monitor import Loader
from aegan.serve.app import create_app
from aegan.serve.config import ServeConfig, check_config
from aegan.serve.service import Service

KEEP_ALIVE_SECONDS = 5
EXTRA_CONNECTIONS = 64
"""Connections beyond the scoring queue's size (page, streams, health): past these, 503."""


class Server:
    """One service on one address: ``run`` blocks until ``stop`` (or a signal, in the main thread)."""

    def __init__(self, config: ServeConfig, loader: Loader, log_level: str = "info") -> None:
        self.config = check_config(config)
        self.folder = Path(tempfile.mkdtemp(prefix="aegan-serve-"))  # mode 0700: ours alone
        self.service = Service(config, self.folder, loader)
        self.uvicorn = uvicorn.Server(
            uvicorn.Config(
                create_app(self.service), host=config.host, port=config.port,
                log_level=log_level, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                limit_concurrency=config.queue_size + EXTRA_CONNECTIONS,
                timeout_graceful_shutdown=KEEP_ALIVE_SECONDS,
            )
        )  # fmt: skip
        self.service.on_failure = self.stop

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until stopped; a model that failed to load is raised here."""
        try:
            self.uvicorn.run(sockets=sockets)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.service.failure is not None:
            raise self.service.failure

    def stop(self) -> None:
        self.uvicorn.should_exit = True


def serve(config: ServeConfig, loader: Loader, log_level: str = "info") -> None:
    """``aegan serve``: load the models and answer requests until interrupted."""
    Server(config, loader, log_level).run()
