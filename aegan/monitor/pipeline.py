"""One source inside a running monitor: windows waiting to be scored, and what follows a score.

A reader thread (``sources/``) ``put``s windows; the model's scorer thread
(``scoring.py``) ``take``s them in batches and ``deliver``s each result, which
becomes a ``window`` or ``unusable`` event, goes through the alert rule, into
the sinks and the state file.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aegan.detector.timeline import Window
from aegan.monitor.alerts import Episode
from aegan.monitor.events import (
    AlertClosed,
    AlertOpened,
    Dropped,
    Error,
    Event,
    Unusable,
    WindowPlace,
    WindowScored,
    Worst,
    event_from_dict,
    iso,
)  # fmt: skip
from aegan.monitor.sinks.outputs import Outputs
from aegan.monitor.spec import SourceSpec
from aegan.monitor.state import (
    delivered_in_flight,
    load_state,
    restored_tracker,
    save_state,
    tracker_state,
)  # fmt: skip

RECENT_WINDOWS = 720
"""Windows kept per source for subscribers (``Monitor.recent``): two hours of 10-s windows."""

BACKPRESSURE_WINDOWS = 32
"""Without a backlog bound, a reader waits while this many windows of its source wait."""


@dataclass
class PendingWindow:
    """A window cut by a reader, waiting for its score."""

    file: str | None  # relative to the watched folder; None for a stream
    index: int  # the window's number within its file or stream
    last: bool  # the file's last window
    offset: float
    seconds: float
    start_ts: float  # Unix time of its first sample
    wave: np.ndarray  # mono float32 at the model's rate (empty when ``problem`` is set)
    problem: str | None  # why it is unusable, or None
    what: str  # how messages name it
    stamp: list[int] | None = None  # the file's [size, mtime_ns]
    source: str = ""  # set by ``put``: the source's name
    arrival: int = 0  # set by ``put``: the scorer takes the oldest first


class SourceRuntime:
    """A source's queue, alert rule, sinks and state (see the module docstring)."""

    def __init__(
        self,
        spec: SourceSpec,
        threshold: float,
        window_seconds: float,
        hop_seconds: float,
        outputs: Outputs,
        cond: threading.Condition,
        publish: Callable[[Event], None],
    ) -> None:
        self.spec, self.name = spec, spec.name
        self.threshold, self.window_seconds, self.hop_seconds = (
            threshold,
            window_seconds,
            hop_seconds,
        )
        self.outputs, self.cond, self.publish = outputs, cond, publish
        self.state_path = spec.folder / "state.json"
        self.state = load_state(self.state_path)
        self.tracker = restored_tracker(spec.rule, self.state.tracker)
        self._recover(delivered_in_flight(self.state, spec.events_path, spec.name))
        self.pending: deque[PendingWindow] = deque()
        self.recent: deque[WindowScored] = deque(maxlen=RECENT_WINDOWS)
        self.lock = threading.RLock()  # state and counters
        self.finished = threading.Event()  # the reader has put its last window
        self.stopping = threading.Event()
        self.windows_scored = 0
        self.dropped_seconds = 0.0
        self.last: WindowScored | Unusable | None = None
        self.alerts_today: dict[str, int] = {}
        self._drop_run: list[PendingWindow] = []

    # ------------------------------------------------------------ reader side

    def put(self, window: PendingWindow, arrival: int) -> None:
        """Queue a window; beyond the backlog bound the oldest go (and are reported)."""
        window.source, window.arrival = self.name, arrival
        with self.cond:
            if self.spec.max_backlog is None:
                while len(self.pending) >= BACKPRESSURE_WINDOWS and not self.stopping.is_set():
                    self.cond.wait(0.2)
            self.pending.append(window)
            limit = self.spec.max_backlog
            dropped = False
            while limit is not None and self.backlog_seconds > limit and len(self.pending) > 1:
                self._drop_run.append(self.pending.popleft())
                dropped = True
            if not dropped:
                self.report_drops("backlog")
            self.cond.notify_all()

    @property
    def backlog_seconds(self) -> float:
        """Audio waiting to be scored, in seconds (each window brings one hop of new audio)."""
        return len(self.pending) * min(self.hop_seconds, self.window_seconds)

    def report_drops(self, reason: str) -> None:
        """One ``dropped`` event for the run of windows dropped since the last one."""
        with self.cond:
            run, self._drop_run = self._drop_run, []
        if not run:
            return
        start, end = run[0].start_ts, run[-1].start_ts + run[-1].seconds
        seconds = min(end - start, len(run) * min(self.hop_seconds, self.window_seconds))
        with self.lock:
            self.dropped_seconds += seconds
        self.emit(Dropped(self.name, iso(start), iso(end), round(seconds, 3), len(run), reason))

    def stop_pending(self) -> None:
        """At stop: a stream's waiting windows are reported dropped (a folder's are resumed)."""
        with self.cond:
            waiting = list(self.pending)
            self.pending.clear()
            self.cond.notify_all()
        self.report_drops("backlog")
        if self.spec.kind != "folder":
            self._drop_run = waiting
            self.report_drops("stopped")

    def error(self, message: str, file: str | None = None, hint: str | None = None) -> None:
        self.emit(Error(self.name, message, file, hint))

    def files_seen(self, stamps: dict[str, list[int]]) -> None:
        """Files that need no scoring (there at the first start, or unreadable): one state write."""
        with self.lock:
            self.state.files.update(stamps)
            if self.state.current in stamps:
                self.state.current, self.state.current_windows = None, 0
            save_state(self.state_path, self.state)

    def done_files(self) -> dict[str, list[int]]:
        with self.lock:
            return dict(self.state.files)

    def resume_point(self, file: str) -> int:
        """Windows of ``file`` delivered before a restart (0 for a new file)."""
        with self.lock:
            return self.state.current_windows if self.state.current == file else 0

    # ------------------------------------------------------------ scorer side

    def deliver(self, results: list[tuple[PendingWindow, Window]]) -> None:
        """Events, alerts, sinks and state for scored windows of this source, in order."""
        with self.lock:
            self.state.inflight = {
                "seq": self.state.seq,
                "windows": [[p.file, p.index, p.last, p.stamp] for p, _ in results],
            }
            save_state(self.state_path, self.state)
            for pending, window in results:
                self._deliver_one(pending, window)
            self.state.inflight = None
            self.state.tracker = tracker_state(self.tracker)
            save_state(self.state_path, self.state)

    def _recover(self, delivered: list[dict]) -> None:
        """After a kill mid-batch: the batch's logged windows count as done (see state.py)."""
        inflight, self.state.inflight = self.state.inflight, None
        if not inflight or not delivered:
            return
        done = delivered[-1]["seq"] - inflight["seq"] + 1
        for file, index, last, stamp in inflight["windows"][:done]:
            self._progress(file, index, last, stamp)
        self.state.seq = inflight["seq"] + done
        for data in delivered:
            if data["event"] == "window":
                self.tracker.update(event_from_dict(data))
        self.state.tracker = tracker_state(self.tracker)

    def _progress(self, file: str | None, index: int, last: bool, stamp: list[int] | None) -> None:
        if file is not None:
            self.state.current, self.state.current_windows = file, index + 1
            if last:
                self.state.files[file] = stamp or [0, 0]
                self.state.current, self.state.current_windows = None, 0

    def _deliver_one(self, pending: PendingWindow, window: Window) -> None:
        place = WindowPlace(
            pending.file, round(pending.offset, 6), iso(pending.start_ts),
            iso(pending.start_ts + pending.seconds),
        )  # fmt: skip
        seq = self.state.seq
        self.state.seq += 1
        self.outputs.audio(seq, pending.file, pending.offset, pending.wave)
        if window.score is None and pending.problem is None:  # too short to score, say
            self.emit(Error(self.name, window.error or "", pending.file))
        elif window.score is None:
            event: WindowScored | Unusable = Unusable(self.name, seq, place, pending.problem)
            self.emit(event)
            self.last = event
        else:
            event = WindowScored(
                self.name, seq, place, window.score, self.threshold, bool(window.anomalous)
            )
            self.windows_scored += 1
            self.recent.append(event)
            self.emit(event)
            self._apply_rule(event)
            self.last = event
        self._progress(pending.file, pending.index, pending.last, pending.stamp)

    def _apply_rule(self, window: WindowScored) -> None:
        change, episode = self.tracker.update(window)
        if change is None or episode is None:
            return
        if change == "opened":
            day = episode.first.place.start[:10]
            self.alerts_today[day] = self.alerts_today.get(day, 0) + 1
            self.outputs.alert_opened(episode.first.seq)
            self.emit(AlertOpened(
                self.name, episode.number, str(self.spec.rule), episode.first.place.start,
                self.threshold, episode.anomalous, _worst(episode),
            ))  # fmt: skip
        else:
            snippet = self.outputs.alert_closed(
                episode.number, episode.last.seq, episode.first.place.start
            )
            self.emit(AlertClosed(
                self.name, episode.number, str(self.spec.rule), episode.first.place.start,
                episode.last.place.end, self.threshold, episode.anomalous, episode.windows,
                _worst(episode), snippet,
            ))  # fmt: skip

    def emit(self, event: Event) -> None:
        self.outputs.event(event)
        self.publish(event)

    def close(self) -> None:
        self.report_drops("backlog")
        self.outputs.close()


def _worst(episode: Episode) -> Worst:
    w = episode.worst
    return Worst(w.seq, w.place, w.score)
