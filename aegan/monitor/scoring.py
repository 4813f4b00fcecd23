"""One scorer thread per model: windows of all its sources scored together, in batches.

The scorer takes the oldest waiting windows across the model's sources (up to
one timeline batch), scores them through the timeline's own path
(``model.timeline.score_windows``) and hands each source its results. It
stops when every source has ended and nothing waits, or at once after the
batch in hand when the monitor stops.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from aegan.detector.timeline import WINDOWS_PER_BATCH, score_windows

if TYPE_CHECKING:
    from aegan.detector.detector import Detector
    from aegan.monitor.pipeline import PendingWindow, SourceRuntime


class ModelGroup:
    """A loaded model, its sources and its scorer thread."""

    def __init__(self, name: str, detector: Detector, per_batch: int = WINDOWS_PER_BATCH) -> None:
        self.name, self.detector, self.per_batch = name, detector, per_batch
        self.score_name = detector.score_name
        self.cond = threading.Condition()
        self.sources: list[SourceRuntime] = []
        self.stopping = threading.Event()
        self.busy_seconds = 0.0  # time spent scoring
        self.audio_seconds = 0.0  # audio scored (one hop per window)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"aegan-score-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        self.stopping.set()
        with self.cond:
            self.cond.notify_all()

    def _ended(self) -> bool:
        return all(s.finished.is_set() and not s.pending for s in self.sources)

    def _take(self) -> list[PendingWindow]:
        """The oldest waiting windows across sources, at most one batch."""
        batch: list[PendingWindow] = []
        while len(batch) < self.per_batch:
            heads = [s for s in self.sources if s.pending]
            if not heads:
                break
            batch.append(min(heads, key=lambda s: s.pending[0].arrival).pending.popleft())
        return batch

    def _run(self) -> None:
        try:
            while True:
                with self.cond:
                    while (
                        not self.stopping.is_set()
                        and not self._ended()
                        and not any(s.pending for s in self.sources)
                    ):
                        self.cond.wait(0.5)
                    if self.stopping.is_set() or self._ended():
                        return
                    batch = self._take()
                    self.cond.notify_all()  # readers waiting for room
                self._score(batch)
        except BaseException as exc:  # a failure of the scorer stops the monitor; it says why
            self.error = exc
            self.stopping.set()

    def _score(self, batch: list[PendingWindow]) -> None:
        started = time.perf_counter()
        windows = score_windows(
            self.detector,
            [(p.offset, p.offset + p.seconds) for p in batch],
            [p.wave for p in batch],
            [p.what for p in batch],
            [p.problem for p in batch],
            self.score_name,
        )
        self.busy_seconds += time.perf_counter() - started
        runtimes = {s.name: s for s in self.sources}
        by_source: dict[str, list] = {}
        for pending, window in zip(batch, windows, strict=True):
            by_source.setdefault(pending.source, []).append((pending, window))
            if window.score is not None:
                self.audio_seconds += min(pending.seconds, runtimes[pending.source].hop_seconds)
        for name, results in by_source.items():
            runtimes[name].deliver(results)
