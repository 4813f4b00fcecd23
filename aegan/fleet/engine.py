"""Where fleet work runs: in this process, on a local Dask cluster, or on an existing one.

``--workers N`` starts a ``LocalCluster`` of N worker processes whose threads
add up to this machine's cores; ``--scheduler ADDRESS`` (or the environment
variable ``DASK_SCHEDULER_ADDRESS``) joins a running cluster (``dask
scheduler`` / ``dask worker``, dask-jobqueue, Kubernetes). Without either,
work runs here, one task after another, with no Dask at all.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aegan.errors import SystemFailure, UsageError

if TYPE_CHECKING:
    from distributed import Client

SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler given by address before saying it cannot be reached."""


def machine_cores() -> int:
    """The cores this process may use (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Threads of each local worker so that workers x threads fill the cores (at least one)."""
    return max(1, (cores or machine_cores()) // workers)


@dataclass(frozen=True)
class Engine:
    """Where to run: ``workers`` local processes, a ``scheduler`` address, or neither (here).

    ``resources`` are given to each local worker (the training sweep's
    ``GPU=1``: one task at a time per worker); a cluster's workers declare
    their own with ``dask worker --resources``.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads: int | None = None  # per local worker; default: cores / workers
    resources: dict[str, float] = field(default_factory=dict)
    connect_timeout: float = CONNECT_TIMEOUT

    @classmethod
    def from_options(cls, workers: int | None, scheduler: str | None) -> Engine:
        """The options as given; the address falls back to DASK_SCHEDULER_ADDRESS."""
        if workers is not None and scheduler is not None:
            raise UsageError(
                "Use --workers (a local cluster) or --scheduler (an existing one), not both.",
                "Drop one of them.",
            )
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be 1 or more, not {workers}.", "E.g. --workers 2.")
        if workers is None and scheduler is None:
            scheduler = os.environ.get(SCHEDULER_VARIABLE) or None
        return cls(workers=workers, scheduler=scheduler)

    @property
    def distributed(self) -> bool:
        return self.workers is not None or self.scheduler is not None

    def describe(self) -> str:
        """Where the work runs, in words, for summaries."""
        if self.scheduler is not None:
            return f"the cluster at {self.scheduler}"
        if self.workers is not None:
            threads = self.threads or threads_per_worker(self.workers)
            return (
                f"a local cluster of {_count(self.workers, 'worker')} x {_count(threads, 'thread')}"
            )
        return "this process"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@contextmanager
def connect(engine: Engine) -> Iterator[Client | None]:
    """A Dask client for the engine (None: run here), closed with its local cluster afterwards."""
    if not engine.distributed:
        yield None
        return
    require_extra("distributed")
    from distributed import Client, LocalCluster

    if engine.scheduler is not None:
        client = _client_at(engine.scheduler, engine.connect_timeout)
        try:
            yield client
        finally:
            client.close()
        return
    assert engine.workers is not None
    cluster = LocalCluster(
        n_workers=engine.workers,
        threads_per_worker=engine.threads or threads_per_worker(engine.workers),
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        resources=engine.resources or None,
        silence_logs=logging.ERROR,
    )
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _client_at(address: str, timeout: float) -> Client:
    """A client of a running scheduler; a wrong or unreachable address is one clear error.

    The address is checked with a plain connection first: a client that fails
    to connect would complain again when it is garbage-collected.
    """
    from distributed import Client
    from distributed.comm.addressing import get_address_host_port

    try:
        host, port = get_address_host_port(address)
    except ValueError as exc:
        raise UsageError(
            f"{address!r} is not a scheduler address: {exc}.", "Use tcp://HOST:PORT."
        ) from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise SystemFailure(
            f"Cannot reach the Dask scheduler at {address}: {exc}.",
            "Check the address (tcp://HOST:8786) and that `dask scheduler` runs there, "
            f"or unset {SCHEDULER_VARIABLE} to run here.",
        ) from None


def require_extra(*modules: str) -> None:
    """Refuse, with the install command, when the fleet extra's packages are missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"Fleet work needs {' and '.join(missing)}, which are not installed.",
            "Install them with `pip install 'aegan[fleet]'`.",
        )
