"""`aegan score --out DIR`: many files and models, in chunks, on this process or a Dask cluster.

``score_fleet`` plans the chunks (``chunks.py``), skips those whose part is
already in the folder (resume), and runs the others: here one after another,
or as one Dask task each (``engine.py``). Dask moves the tasks of a worker
that dies to the others; a part is written whole or not at all and named by
its content, so a task run twice writes the same file and every file is in
the result exactly once. Ctrl-C keeps the finished parts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aegan.errors import AeganError, SystemFailure
from aegan.fleet.chunks import (
    FILES_PER_CHUNK,
    Chunk,
    ScoreSettings,
    check_folder,
    claim_folder,
    plan_chunks,
)
from aegan.fleet.engine import Engine, connect
from aegan.fleet.inputs import Entry, resolve_models
from aegan.fleet.parts import Totals, read_rows, totals
from aegan.fleet.worker import ChunkDone, score_chunk
from aegan.paths import sweep_stale
from aegan.progress import Progress, no_progress

if TYPE_CHECKING:
    from distributed import Client

TASK = "Scoring chunks"


class FleetInterrupted(AeganError):
    """Ctrl-C during a fleet run: the finished parts stay, a rerun resumes."""

    exit_code = 130


@dataclass(frozen=True)
class FleetRun:
    """A finished run: the whole result's totals, and what this run did and how fast."""

    out: Path
    parts: tuple[Path, ...]
    totals: Totals
    written: int  # parts scored by this run
    skipped: int  # parts found from an earlier run
    scored_files: int
    scored_audio_seconds: float
    seconds: float
    engine: str

    @property
    def files_per_hour(self) -> float:
        return 3600 * self.scored_files / self.seconds if self.seconds else 0.0

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio scored per second of this run."""
        return self.scored_audio_seconds / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "parts": len(self.parts),
            "written": self.written,
            "skipped": self.skipped,
            **vars(self.totals),
            "audio_hours": self.totals.audio_hours,
            "seconds": self.seconds,
            "files_per_hour": self.files_per_hour,
            "real_time_factor": self.real_time_factor,
            "engine": self.engine,
        }


def score_fleet(
    entries: Sequence[Entry],
    out: Path,
    settings: ScoreSettings = ScoreSettings(),
    engine: Engine = Engine(),
    *,
    files_per_chunk: int = FILES_PER_CHUNK,
    fmt: str = "parquet",
    progress: Progress = no_progress,
    client: Client | None = None,
) -> FleetRun:
    """Score ``entries`` into part files under ``out``; a rerun resumes. ``client``: reuse one.

    Everything is checked (models, the folder, the engine) before the first part is written.
    """
    out = Path(out).absolute()
    chunks = plan_chunks(entries, resolve_models(entries), settings, files_per_chunk, fmt)
    check_folder(out, chunks)
    todo = [c for c in chunks if not (out / c.part).is_file()]
    idle = client is not None or not todo  # nothing to start: a cluster given, or all done
    with nullcontext(client) if idle else connect(engine) as connected:
        claim_folder(out, chunks)
        sweep_stale(out)
        started = time.perf_counter()
        done = _run_all(chunks, todo, settings, out, connected, progress)
    parts = tuple(out / c.part for c in chunks)
    return FleetRun(
        out, parts, totals(read_rows(parts)), len(done), len(chunks) - len(todo),
        sum(d.files for d in done), sum(d.audio_seconds for d in done),
        time.perf_counter() - started, _where(engine, client),
    )  # fmt: skip


def _where(engine: Engine, client: Client | None) -> str:
    return engine.describe() if client is None else f"the cluster at {client.scheduler.address}"


def _run_all(
    chunks: Sequence[Chunk], todo: Sequence[Chunk], settings: ScoreSettings, out: Path,
    client: Client | None, progress: Progress,
) -> list[ChunkDone]:  # fmt: skip
    """Run the chunks still to do, reporting each; Ctrl-C keeps the parts written so far."""
    done: list[ChunkDone] = []
    progress(TASK, len(chunks) - len(todo), len(chunks))
    results = (
        (score_chunk(c, settings, out) for c in todo)
        if client is None
        else _on_cluster(client, todo, settings, out)
    )
    try:
        for finished in results:
            done.append(finished)
            progress(TASK, len(chunks) - len(todo) + len(done), len(chunks))
    except KeyboardInterrupt:
        raise FleetInterrupted(
            f"Stopped: {len(chunks) - len(todo) + len(done)} of {len(chunks)} parts are in {out}.",
            "Run the same command again to score the rest.",
        ) from None
    finally:
        sweep_stale(out)  # temporary files of workers that died
    return done


def _on_cluster(
    client: Client, chunks: Sequence[Chunk], settings: ScoreSettings, out: Path
) -> Iterator[ChunkDone]:
    """One task per chunk; a failure that is the user's to fix stops the run, tasks cancelled."""
    from distributed import KilledWorker, as_completed

    futures = [
        client.submit(score_chunk, chunk, settings, out, key=f"aegan-chunk-{chunk.digest}")
        for chunk in chunks
    ]
    try:
        for future in as_completed(futures):
            try:
                yield future.result()
            except KilledWorker as exc:
                raise SystemFailure(
                    f"Workers died each time they scored one chunk: {exc}",
                    "Check the workers' logs (memory, a crashing file); the parts written so far "
                    "are kept, and the same command resumes.",
                ) from None
    finally:
        client.cancel(futures)
