"""The sources of ``aegan watch`` inside the service: the monitor, its events and alerts.

The monitor runs the plant's sources with the service's own loaded models
(each model in memory once). Every event it emits is numbered into the
``EventLog`` for ``/v1/events``, counted in the metrics, and used to keep each
source's open and recent alerts for ``/v1/sources``.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aegan.errors import AeganError
from aegan.monitor.events import Event, parse_iso
from aegan.monitor.monitor import Loader, Monitor
from aegan.monitor.spec import SourceSpec
from aegan.serve.events import EventLog
from aegan.serve.metrics import Metrics

if TYPE_CHECKING:
    from aegan.detector.detector import Detector

KEPT_ALERTS = 20
"""Closed alerts shown per source (the chart shades those in its time range)."""


class UnknownSource(AeganError):
    """A source name the service does not watch (HTTP 404)."""


class Watch:
    """A running monitor and what the routes show of it."""

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        detectors: Mapping[str, Detector],
        loader: Loader,
        metrics: Metrics,
        heartbeat: float | None = None,
    ) -> None:
        self.log = EventLog()
        self.metrics = metrics
        self._lock = threading.Lock()
        self._alerts: dict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=KEPT_ALERTS)
        )
        options = {} if heartbeat is None else {"heartbeat": heartbeat}
        self.monitor = Monitor(specs, loader=loader, detectors=detectors, **options)
        self.monitor.subscribe(self._on_event)

    def start(self) -> None:
        self.monitor.start()
        for status in self.monitor.status():
            self.metrics.alert.labels(status.name).set(0)

    def stop(self) -> None:
        self.monitor.stop()

    def _on_event(self, event: Event) -> None:
        data = event.to_dict()
        kind, source = data["event"], data["source"]
        if kind == "window":
            model = self.monitor.runtimes[source].spec.model
            self.metrics.windows.labels(model, source).inc()
            self.metrics.anomalies.labels(model, source).inc(int(data["anomalous"]))
        elif kind in ("alert_opened", "alert_closed"):
            self.metrics.alert.labels(source).set(1 if kind == "alert_opened" else 0)
            with self._lock:
                alerts = self._alerts[source]
                if kind == "alert_closed" and alerts and alerts[-1]["alert"] == data["alert"]:
                    alerts.pop()
                alerts.append(_alert_span(data))
        self.log.append(data)

    def sources(self) -> list[dict[str, Any]]:
        """Each source's state, window settings and alerts (the open one has no end)."""
        runtimes = self.monitor.runtimes
        with self._lock:
            alerts = {name: list(kept) for name, kept in self._alerts.items()}
        return [
            {
                **status.to_dict(),
                "window_seconds": runtimes[status.name].window_seconds,
                "hop_seconds": runtimes[status.name].hop_seconds,
                "alerts": alerts.get(status.name, []),
            }
            for status in self.monitor.status()
        ]

    def windows(self, name: str, since: str | None) -> list[dict[str, Any]]:
        """The source's kept windows, oldest first; with ``since``, those ending after it
        (a window number, or an ISO time)."""
        if name not in self.monitor.runtimes:
            raise UnknownSource(
                f"This service watches no source named {name!r}.",
                f"Watching: {', '.join(sorted(self.monitor.runtimes))} (GET /v1/sources).",
            )
        windows = [w.to_dict() for w in self.monitor.recent(name)]
        if since is None:
            return windows
        if since.lstrip("-").isdigit():
            return [w for w in windows if w["seq"] > int(since)]
        moment = parse_since(since)
        return [w for w in windows if parse_iso(w["place"]["end"]) > moment]


def parse_since(text: str) -> float:
    from aegan.errors import UsageError

    try:
        return parse_iso(text)
    except ValueError:
        raise UsageError(
            f"since={text!r} is neither a window number nor a time.",
            "Give a window's seq (since=41) or an ISO UTC time (since=2026-12-04T18:41:19.123Z).",
        ) from None


def _alert_span(data: dict[str, Any]) -> dict[str, Any]:
    keys = ("alert", "rule", "start", "threshold", "anomalous_windows", "worst")
    return {**{k: data[k] for k in keys}, "end": data.get("end")}
