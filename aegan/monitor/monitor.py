"""The monitor: sources, their models (each loaded once) and sinks, run until stopped.

``Monitor(specs).run()`` is what ``aegan watch`` does; a program embeds it with
``start()``, ``subscribe()``, ``recent()``, ``status()`` and ``stop()``. Every
check a user can fail (a folder that is not there, a model that is not there, a
log that cannot be written, a sound card that is missing) runs in ``start``,
before any listening begins.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from aegan.monitor.assembly import build_outputs, build_reader
from aegan.monitor.events import Event, SourceEnded, SourceStarted, WindowScored
from aegan.monitor.heartbeat import HeartbeatThread
from aegan.monitor.pipeline import SourceRuntime
from aegan.monitor.scoring import ModelGroup
from aegan.monitor.sources.feed import Feed
from aegan.monitor.spec import SourceSpec
from aegan.monitor.status import SourceStatus, source_status

if TYPE_CHECKING:
    from aegan.detector.detector import Detector

DEVICE_BACKLOG = 120.0
"""A sound card cannot wait: without --max-backlog, at most this many seconds wait to be scored."""

Subscriber = Callable[[Event], None]


def load_model(name: str) -> Detector:
    from aegan.detector.detector import Detector

    return Detector.load(name)


class Monitor:
    """Sources watched together; events go to their sinks and to every subscriber."""

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        *,
        loader: Callable[[str], Detector] = load_model,
        detectors: Mapping[str, Detector] | None = None,
        heartbeat: float = 60.0,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names) or not specs:
            from aegan.errors import UsageError

            raise UsageError(
                "Every source needs a name of its own." if specs else "There is nothing to watch.",
                "Name the sources apart (name: in the config file)." if specs else
                "Give a folder, - for standard input, --device or --config.",
            )  # fmt: skip
        self.specs = [_bounded(s) for s in specs]
        self.loader, self.heartbeat = loader, heartbeat
        self.detectors: dict[str, Detector] = dict(detectors or {})
        self.groups: dict[str, ModelGroup] = {}
        self.runtimes: dict[str, SourceRuntime] = {}
        self._readers: dict[str, object] = {}
        self._threads: list[threading.Thread] = []
        self._subscribers: list[Subscriber] = []
        self._sub_lock = threading.Lock()
        self._arrivals = itertools.count()
        self._logs: dict = {}
        self._stopping = threading.Event()
        self._stopped = False
        self._heart: HeartbeatThread | None = None

    # ------------------------------------------------------------ subscribers

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event (from the monitor's threads); returns the
        function that unsubscribes it. A callback must be quick and must not raise."""
        with self._sub_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._sub_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _publish(self, event: Event) -> None:
        with self._sub_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(event)

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Check and open everything, then start listening (returns at once)."""
        readers = {s.name: build_reader(s) for s in self.specs}  # clear messages first
        for spec in self.specs:
            if spec.model not in self.detectors:
                self.detectors[spec.model] = self.loader(spec.model)
        try:
            for spec in self.specs:
                self._add_runtime(spec)
        except BaseException:  # a sink that cannot be opened: close what was
            for runtime in self.runtimes.values():
                runtime.outputs.close()
            for log in self._logs.values():
                log.close()
            raise
        self._readers = readers
        for group in self.groups.values():
            group.start()
        for spec in self.specs:
            self._start_reader(spec)
        self._heart = HeartbeatThread(self.groups, self.heartbeat)
        self._heart.start()

    def _add_runtime(self, spec: SourceSpec) -> None:
        detector = self.detectors[spec.model]
        group = self.groups.get(spec.model)
        if group is None:
            group = self.groups[spec.model] = ModelGroup(spec.model, detector)
        window = detector.clip_seconds
        hop = spec.hop or window
        runtime_box: list[SourceRuntime] = []
        outputs = build_outputs(spec, detector, hop, self._logs, lambda e: runtime_box[0].emit(e))
        runtime = SourceRuntime(
            spec, detector.threshold(), window, hop, outputs, group.cond, self._publish
        )
        runtime_box.append(runtime)
        group.sources.append(runtime)
        self.runtimes[spec.name] = runtime

    def _start_reader(self, spec: SourceSpec) -> None:
        runtime = self.runtimes[spec.name]
        detector = self.detectors[spec.model]
        feed = Feed(
            spec.name, detector.cfg.feat.sample_rate, runtime.window_seconds, runtime.hop_seconds,
            spec.quality, runtime, runtime.stopping,
            lambda w: runtime.put(w, next(self._arrivals)),
        )  # fmt: skip
        runtime.emit(SourceStarted(
            spec.name, spec.what, spec.model, runtime.window_seconds, runtime.hop_seconds
        ))  # fmt: skip
        thread = threading.Thread(
            target=_read, args=(self._readers[spec.name], feed), name=f"aegan-read-{spec.name}",
            daemon=True,
        )  # fmt: skip
        self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every source has ended (True) or ``timeout`` seconds passed (False)."""
        for group in self.groups.values():
            if not group.join(timeout):
                return False
            if group.error is not None:
                raise group.error
        return True

    def run(self) -> None:
        """Start, listen until every source ends or ``stop`` is called, then stop cleanly."""
        self.start()
        try:
            while not self._stopping.is_set() and not self.wait(0.5):
                pass
        finally:
            self.stop()

    def request_stop(self) -> None:
        """Ask ``run`` to stop (safe from a signal handler): it finishes the batch in hand."""
        self._stopping.set()
        for runtime in self.runtimes.values():
            runtime.stopping.set()
        for group in self.groups.values():
            group.stop()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the batch in hand, flush and close every sink; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        reasons = {
            name: "ended" if r.finished.is_set() and not r.stopping.is_set() else "stopped"
            for name, r in self.runtimes.items()
        }
        self.request_stop()
        if self._heart is not None:
            self._heart.stop()
        for group in self.groups.values():
            group.join(timeout)
        for name, runtime in self.runtimes.items():
            runtime.stop_pending()
            runtime.emit(SourceEnded(name, reasons[name]))
            runtime.close()
        for log in self._logs.values():
            log.close()

    # ------------------------------------------------------------ what subscribers see

    def recent(self, source: str, limit: int | None = None) -> list[WindowScored]:
        """The source's latest scored windows, oldest first (at most RECENT_WINDOWS)."""
        windows = list(self.runtimes[source].recent)
        return windows if limit is None else windows[-limit:]

    def status(self) -> list[SourceStatus]:
        """Each source's state now: last score, alert open or not, counts, backlog."""
        return [source_status(r) for r in self.runtimes.values()]

    def push(self, source: str, samples: np.ndarray) -> None:
        """Feed samples (frames, channels) or (frames,) to a ``push`` source."""
        self._readers[source].push(np.asarray(samples, np.float32))

    def end(self, source: str) -> None:
        """End a ``push`` source: its last window is scored, then it ends."""
        self._readers[source].end()


def _bounded(spec: SourceSpec) -> SourceSpec:
    if spec.kind == "device" and spec.max_backlog is None:
        return replace(spec, max_backlog=DEVICE_BACKLOG)
    return spec


def _read(reader, feed: Feed) -> None:
    """A reader's thread: its failures become error events; the source then ends."""
    from aegan.errors import AeganError

    try:
        reader.run(feed)
    except AeganError as exc:
        feed.runtime.error(exc.message, hint=exc.hint)
    finally:
        feed.runtime.finished.set()
        with feed.runtime.cond:
            feed.runtime.cond.notify_all()
