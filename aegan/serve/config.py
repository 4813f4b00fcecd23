"""The settings of ``aegan serve``, checked once where they enter: address, token, limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from aegan.errors import UsageError

MIN_TOKEN_LENGTH = 16
"""Shorter tokens are guessable; ``secrets.token_urlsafe()`` gives 43 characters."""


@dataclass(frozen=True)
class ServeConfig:
    """What the service loads, where it listens and the limits every request runs under."""

    models: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    cors: tuple[str, ...] = ()
    watch: Path | None = None
    max_upload_mb: float = 50.0
    queue_size: int = 64
    batch_files: int = 32
    request_seconds: float = 60.0
    stream_seconds: float = 300.0

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_config(config: ServeConfig) -> ServeConfig:
    """Refuse settings that would expose the service or make it unusable, before loading."""
    if not config.models:
        raise UsageError(
            "No model to serve.", "Give at least one --model NAME (see `aegan models`)."
        )
    if len(set(config.models)) != len(config.models):
        raise UsageError("A --model is given twice.", "Name each model once.")
    if config.token is not None and len(config.token) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"The token has {len(config.token)} characters; it needs at least {MIN_TOKEN_LENGTH}.",
            "Make one with: python -c 'import secrets; print(secrets.token_urlsafe())'",
        )
    if not is_loopback(config.host) and config.token is None:
        raise UsageError(
            f"Listening on {config.host} lets other machines reach the service; "
            "that needs a token.",
            "Pass --token SECRET (or set AEGAN_TOKEN); clients then send "
            "'Authorization: Bearer SECRET'. Or keep the default --host 127.0.0.1.",
        )
    _positive("--max-upload-mb", config.max_upload_mb)
    _positive("--queue", config.queue_size)
    _positive("batch_files", config.batch_files)
    _positive("--timeout", config.request_seconds)
    if not 0 <= config.port <= 65535:
        raise UsageError(f"--port {config.port} is not a TCP port.", "Use 1 to 65535.")
    if config.watch is not None and not config.watch.is_file():
        raise UsageError(f"--watch {config.watch}: no such file.", "Give the plant's YAML file.")
    return config


def _positive(option: str, value: float) -> None:
    if not value > 0:
        raise UsageError(f"{option} must be positive, not {value}.")
