"""Work per machine type as one Dask task each: `aegan prepare`, `test` and `train --all`.

``run_sweep`` submits one task per machine type and gathers a ``SweepRow``
from each: what it did, or the user-fixable error that stopped it (a machine
type without data fails its row, not the sweep). Without a cluster the tasks
run here, one after another. Training tasks ask for the resource ``GPU=1``:
a worker started with ``--resources GPU=1`` takes one at a time, and a local
cluster gives each of its workers one such slot, so on one computer they run
one after another on its CPU, with all its cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from aegan.errors import AeganError, UsageError
from aegan.fleet.engine import Engine, connect, machine_cores
from aegan.progress import Progress, no_progress

if TYPE_CHECKING:
    from distributed import Client

GPU = "GPU"
"""The resource a training task takes one of: a GPU, or on a local cluster a worker's CPU."""


@dataclass(frozen=True)
class SweepRow:
    """One machine type's outcome: named fields, or the error that stopped it."""

    machine: str
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class MachineTask:
    """A function of one machine type and its arguments, run on some worker."""

    machine: str
    run: Callable[..., dict[str, Any]]
    args: tuple = ()


def guarded(task: MachineTask) -> SweepRow:
    """Run a task; a user-fixable error becomes its row's error."""
    try:
        return SweepRow(task.machine, task.run(*task.args))
    except AeganError as exc:
        return SweepRow(task.machine, error=exc.message)


def run_sweep(
    tasks: Sequence[MachineTask],
    engine: Engine = Engine(),
    *,
    kind: str,
    resources: dict[str, float] | None = None,
    progress: Progress = no_progress,
) -> list[SweepRow]:
    """Every task's row, in the tasks' order; on the engine's cluster when it names one."""
    label = f"{kind.capitalize()} per machine type"
    progress(label, 0, len(tasks))
    local = replace(engine, resources=resources or {}) if engine.workers else engine
    with connect(local) as client:
        if client is None:
            rows = []
            for task in tasks:
                rows.append(guarded(task))
                progress(label, len(rows), len(tasks))
            return rows
        return _on_cluster(client, tasks, kind, resources, lambda n: progress(label, n, len(tasks)))


def _on_cluster(
    client: Client, tasks: Sequence[MachineTask], kind: str,
    resources: dict[str, float] | None, done: Callable[[int], None],
) -> list[SweepRow]:  # fmt: skip
    from distributed import as_completed

    if resources:
        require_resources(client, resources)
    futures = [
        client.submit(guarded, task, key=f"aegan-{kind}-{task.machine}", resources=resources)
        for task in tasks
    ]
    order = {future.key: index for index, future in enumerate(futures)}
    rows: list[SweepRow | None] = [None] * len(tasks)
    try:
        for count, future in enumerate(as_completed(futures), 1):
            rows[order[future.key]] = future.result()
            done(count)
    finally:
        client.cancel(futures)
    return [row for row in rows if row is not None]


def require_resources(client: Client, resources: dict[str, float]) -> None:
    """Refuse to wait forever on a cluster none of whose workers offers the resources."""
    workers = client.scheduler_info()["workers"].values()
    if not any(
        all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items()) for w in workers
    ):
        wanted = " ".join(f"{k}={v:g}" for k, v in resources.items())
        raise UsageError(
            f"No worker of the cluster at {client.scheduler.address} offers {wanted}.",
            f"Start the workers with `dask worker ADDRESS --resources {wanted}`.",
        )


def use_worker_threads() -> None:
    """On a Dask worker, let torch use the worker's threads (its nanny sets one per process).

    A training task holds the worker's one GPU slot, so its threads are free.
    """
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError):
        return  # not on a worker: keep this process's settings
    torch.set_num_threads(min(threads, machine_cores()))
