"""Every few seconds, a ``heartbeat`` event per source: windows scored, backlog, speed."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from aegan.monitor.events import Heartbeat
from aegan.monitor.scoring import ModelGroup


class HeartbeatThread:
    """Beats every ``interval`` seconds until stopped (none when ``interval`` is 0)."""

    def __init__(self, groups: Mapping[str, ModelGroup], interval: float) -> None:
        self.groups, self.interval = groups, interval  # the monitor's scorers, by model
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aegan-heartbeat", daemon=True)
        self._last = {name: (0.0, 0.0) for name in groups}  # (busy, audio) seconds

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """One heartbeat per source; the real-time factor is its model's over the interval."""
        for name, group in self.groups.items():
            busy, audio = group.busy_seconds, group.audio_seconds
            last_busy, last_audio = self._last.get(name, (0.0, 0.0))
            self._last[name] = (busy, audio)
            factor = (audio - last_audio) / (busy - last_busy) if busy > last_busy else None
            for runtime in group.sources:
                runtime.report_drops("backlog")
                runtime.emit(Heartbeat(
                    runtime.name, runtime.windows_scored, round(runtime.backlog_seconds, 3),
                    None if factor is None else round(factor, 3),
                    round(runtime.dropped_seconds, 3),
                ))  # fmt: skip
