"""Training on several devices: one process per device, DistributedDataParallel.

Two ways in. ``aegan train --gpu 0,1`` calls ``launch``, which spawns one
worker process per device and stays behind as a supervisor: it relays rank
0's reports (progress, epochs) to the caller's callbacks, returns rank 0's
result, and stops every worker when one fails or the user presses Ctrl-C.
Under ``torchrun`` every process is already started; ``torchrun_rank`` reads
the rank from the environment and the caller runs its worker directly.

Every rank holds the same networks; rank 0 alone validates, writes
checkpoints and the bundle.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import socket
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.nn import functional as differentiable
from torch.nn.parallel import DistributedDataParallel

from aegan.errors import AeganError

GROUP_TIMEOUT = timedelta(hours=2)
"""Long enough for rank 0 to validate a full-size epoch while the other ranks wait."""
GRACE_SECONDS = 60.0
"""How long an interrupted worker gets to finish writing before it is terminated."""
POLL_SECONDS = 0.2

CPU = torch.device("cpu")
DEPRECATION_NOTE = r"torch\.distributed\.nn\.functional\.all_gather is deprecated"

Reporter = Callable[[Any], None]
"""Where a worker sends its reports; rank 0's reach the caller, the others' are dropped."""


@dataclass(frozen=True)
class Rank:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    device: torch.device = CPU

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def torchrun_rank() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) when started by torchrun with several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or "RANK" not in os.environ:
        return None
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0"))


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def init_group(rank: Rank, init_method: str = "env://") -> None:
    """Join the process group of all ranks (a no-op for a single process)."""
    if not rank.distributed or dist.is_initialized():
        return
    if rank.device.type == "cuda":
        torch.cuda.set_device(rank.device)
    dist.init_process_group(
        backend_for(rank.device),
        init_method=init_method,
        rank=rank.rank,
        world_size=rank.world,
        timeout=GROUP_TIMEOUT,
    )


def close_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: torch.nn.Module, rank: Rank) -> torch.nn.Module:
    """The module as the training step calls it: DDP-wrapped when there are several ranks."""
    if not rank.distributed:
        return module
    ids = [rank.device.index] if rank.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def gather_rows(tensor: torch.Tensor, rank: Rank) -> torch.Tensor:
    """All ranks' rows in rank order; gradients flow back to each rank's own rows.

    Batch statistics (the feature-matching mean and std) over the gathered
    rows equal those of one process holding the whole batch.
    """
    if not rank.distributed:
        return tensor
    # all_gather of torch.distributed.nn is differentiable: its backward sums the
    # gradients of every rank's copy of the gathered rows and hands each rank its own.
    with warnings.catch_warnings():
        # Newer torch releases point to a private module instead; the public
        # function is the one every supported release has.
        warnings.filterwarnings("ignore", DEPRECATION_NOTE, FutureWarning)
        parts = differentiable.all_gather(tensor, dist.group.WORLD)
    return torch.cat(parts)


def barrier(rank: Rank) -> None:
    """Wait until every rank gets here."""
    if rank.distributed:
        dist.barrier()


def mean_over_ranks(tensor: torch.Tensor, rank: Rank) -> torch.Tensor:
    if not rank.distributed:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / rank.world


def broadcast_from_main(value: Any, rank: Rank) -> Any:
    """Rank 0's value on every rank (e.g. the checkpoint a run resumes from)."""
    if not rank.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(
        box, src=0, device=rank.device if rank.device.type == "cuda" else None
    )
    return box[0]


# ---------------------------------------------------------------- spawning


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _threads_per_rank(device: torch.device, world: int) -> int:
    """CPU ranks share the cores; a GPU rank needs few."""
    cores = os.cpu_count() or 1
    return max(1, cores // world) if device.type == "cpu" else min(4, cores)


def _send(channel: Any, message: tuple) -> None:
    """Put a message on the relay queue as plain pickled bytes.

    Plain pickling copies tensors by value, so the message stays readable after
    the sending process has exited; an unpicklable payload is sent as its text.
    """
    try:
        data = pickle.dumps(message)
    except Exception:  # an arbitrary exception or result that cannot cross processes
        data = pickle.dumps((message[0], RuntimeError(repr(message[1]))))
    channel.put(data)


def _worker_entry(
    index: int,
    fn: Callable[..., Any],
    args: tuple,
    devices: Sequence[torch.device],
    init_method: str,
    channel: Any,
) -> None:
    """Runs in each spawned process: join the group, run ``fn``, send rank 0's outcome."""
    rank = Rank(index, len(devices), devices[index])
    torch.set_num_threads(_threads_per_rank(rank.device, rank.world))
    report: Reporter = (
        (lambda message: _send(channel, ("report", message))) if rank.is_main else _drop
    )
    try:
        init_group(rank, init_method)
        result = fn(rank, report, *args)
    except BaseException as exc:
        if not rank.is_main:
            raise  # the supervisor sees the exit and stops the others
        if not isinstance(exc, (AeganError, KeyboardInterrupt)):
            exc = RuntimeError("".join(traceback.format_exception(exc)))
        _send(channel, ("error", exc))  # rank 0 reports its error and exits cleanly
        return
    finally:
        close_group()
    if rank.is_main:
        _send(channel, ("result", result))


def _drop(message: Any) -> None:
    """The reporter of ranks other than 0."""


def launch(
    fn: Callable[..., Any],
    args: tuple,
    devices: Sequence[torch.device],
    relay: Reporter,
) -> Any:
    """Run ``fn(rank, report, *args)`` in one process per device; return rank 0's result.

    ``fn`` and ``args`` must be picklable (a module-level function, plain data).
    Rank 0's reports are passed to ``relay`` here, in the caller's process. An
    error of rank 0 is re-raised as is; another rank's failure stops all ranks.
    On Ctrl-C every worker gets SIGINT and time to finish writing a file.
    """
    context = mp.get_context("spawn")
    channel = context.Queue()
    init_method = f"tcp://127.0.0.1:{_free_port()}"
    workers = mp.start_processes(
        _worker_entry,
        args=(fn, args, list(devices), init_method, channel),
        nprocs=len(devices),
        join=False,
        start_method="spawn",
    )
    outcome: tuple | None = None
    try:
        outcome = _supervise(workers, channel, relay)
    except KeyboardInterrupt:
        outcome = _interrupt(workers, channel, relay)
    finally:
        _stop(workers)
    kind, value = outcome
    if kind == "error":
        raise value
    return value


def _supervise(workers: mp.ProcessContext, channel: Any, relay: Reporter) -> tuple:
    """Relay rank 0's reports until it sends its outcome and every worker has exited."""
    outcome = None
    while True:
        outcome = _drain(channel, relay, outcome, timeout=POLL_SECONDS)
        if outcome is not None and outcome[0] == "error":
            return outcome
        if workers.join(timeout=0):
            return _drain(channel, relay, outcome, timeout=POLL_SECONDS) or (
                "error",
                RuntimeError("The training workers exited without a result."),
            )


def _drain(channel: Any, relay: Reporter, outcome: tuple | None, timeout: float) -> tuple | None:
    """Pass queued reports on; return the outcome once one has arrived."""
    with contextlib.suppress(queue.Empty):
        while outcome is None:
            kind, value = pickle.loads(channel.get(timeout=timeout))
            if kind == "report":
                relay(value)
            else:
                outcome = (kind, value)
    return outcome


def _interrupt(workers: mp.ProcessContext, channel: Any, relay: Reporter) -> tuple:
    """Ctrl-C: ask every worker to stop, wait for rank 0 to say how far it got."""
    for process in workers.processes:
        if process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    outcome = None
    for process in workers.processes:
        process.join(GRACE_SECONDS)
    outcome = _drain(channel, relay, outcome, timeout=POLL_SECONDS)
    return outcome or ("error", KeyboardInterrupt())


def _stop(workers: mp.ProcessContext) -> None:
    for process in workers.processes:
        if process.is_alive():
            process.terminate()
        process.join()
