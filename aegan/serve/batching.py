"""The bounded scoring queue: requests of many clients scored in shared network batches.

Request handlers put a ``Job`` (one uploaded recording and how to score it) on
the queue and wait for its future. One worker thread owns the networks: it
takes every job waiting, groups them by model and scoring settings, and scores
each group with one ``score_recordings`` call, so the recordings of concurrent
requests share network batches exactly as the files of one ``aegan score`` call
do. The queue is bounded: past ``capacity`` jobs (waiting or being scored) a
submit is refused with an estimate of when to retry. A job whose client has
gone (its future cancelled) is skipped, never scored.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from aegan.detector.file_scoring import RecordingScore, score_recordings

if TYPE_CHECKING:
    from aegan.detector.detector import Detector


@dataclass(frozen=True)
class Settings:
    """How a job is scored; jobs with equal settings share batches."""

    model: str
    score: str
    timeline: bool | None  # None: by the recording's length, as `aegan score` decides
    hop: float | None


@dataclass(eq=False)
class Job:
    path: Path
    settings: Settings
    future: Future[RecordingScore] = field(default_factory=Future)


class QueueFull(Exception):
    """The queue holds ``capacity`` jobs; ``retry_after`` is the seconds to wait, estimated."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


Scored = Callable[[Job, RecordingScore], None]
"""Told of every job scored, in the worker thread (metrics count here)."""


class ScoringQueue:
    """Jobs in, futures out; one worker thread scores them in groups (see the module doc)."""

    def __init__(
        self,
        detectors: Mapping[str, Detector],
        capacity: int,
        batch_files: int,
        on_scored: Scored = lambda job, outcome: None,
    ) -> None:
        self.detectors = detectors
        self.capacity = capacity
        self.batch_files = batch_files
        self.on_scored = on_scored
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._depth = 0
        self._seconds_per_job = 1.0  # moving average, for Retry-After
        self._worker = threading.Thread(target=self._run, name="aegan-scoring", daemon=True)

    @property
    def depth(self) -> int:
        """Jobs waiting or being scored."""
        return self._depth

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        """Finish the jobs taken, cancel the waiting ones and end the worker."""
        self._jobs.put(None)
        if self._worker.is_alive():
            self._worker.join()

    def submit(self, job: Job) -> Future[RecordingScore]:
        with self._lock:
            if self._depth >= self.capacity:
                raise QueueFull(max(1, math.ceil(self._depth * self._seconds_per_job)))
            self._depth += 1
        self._jobs.put(job)
        return job.future

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            for settings, group in groupby(taken, key=lambda job: job.settings):
                self._score_group(settings, list(group))

    def _take(self) -> list[Job] | None:
        """The next jobs, as many as wait (up to ``batch_files``), sorted by their settings;
        None once stopped (the jobs still waiting are cancelled)."""
        first = self._jobs.get()
        taken = [] if first is None else [first]
        stopping = first is None
        while not stopping and len(taken) < self.batch_files:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            stopping = job is None
            taken += [] if job is None else [job]
        if stopping:
            self._drain(taken)
            return None
        live = [job for job in taken if job.future.set_running_or_notify_cancel()]
        self._finished(len(taken) - len(live))
        return sorted(live, key=lambda job: repr(job.settings))

    def _drain(self, taken: list[Job]) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            taken += [] if job is None else [job]
        for job in taken:
            job.future.cancel()
        self._finished(len(taken))

    def _score_group(self, settings: Settings, jobs: list[Job]) -> None:
        began = time.perf_counter()
        detector = self.detectors[settings.model]
        try:
            outcomes = score_recordings(
                detector, [job.path for job in jobs], timeline=settings.timeline,
                hop=settings.hop, score=settings.score,
            )  # fmt: skip
        except Exception as exc:  # a bug or a system failure: every waiting client hears of it
            for job in jobs:
                job.future.set_exception(exc)
        else:
            for job, outcome in zip(jobs, outcomes, strict=True):
                self.on_scored(job, outcome)
                job.future.set_result(outcome)
        self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * (
            (time.perf_counter() - began) / len(jobs)
        )
        self._finished(len(jobs))

    def _finished(self, count: int) -> None:
        with self._lock:
            self._depth -= count
