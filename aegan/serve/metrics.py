"""The service's Prometheus metrics, in a registry of its own (two services never mix)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aegan.detector.file_scoring import RecordingScore

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Seconds: from a cached page asset to a long timeline."""


class Metrics:
    """Counters of what was scored, the queue depth, request latency and source alert state."""

    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        labels = {"registry": self.registry}
        self.files = Counter(
            "aegan_files_scored", "Uploaded recordings scored", ["model"], **labels
        )
        self.windows = Counter(
            "aegan_windows_scored",
            "Clip-long windows scored (a recording scored whole counts one)",
            ["model", "source"],
            **labels,
        )
        self.anomalies = Counter(
            "aegan_anomalies", "Windows scored above the threshold", ["model", "source"], **labels
        )
        self.alert = Gauge(
            "aegan_alert_open", "1 while a source's alert is open, else 0", ["source"], **labels
        )
        self.latency = Histogram(
            "aegan_request_seconds",
            "Time to answer a request",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            **labels,
        )
        depth = Gauge("aegan_queue_depth", "Scoring jobs waiting or being scored", **labels)
        depth.set_function(queue_depth)

    def count_upload(self, model: str, outcome: RecordingScore) -> None:
        """An uploaded recording: one file, and its windows (one when scored whole)."""
        if outcome.result.error is not None:
            return
        self.files.labels(model).inc()
        if outcome.timeline is None:
            self.windows.labels(model, "upload").inc()
            self.anomalies.labels(model, "upload").inc(int(bool(outcome.result.anomalous)))
            return
        scored = [w for w in outcome.timeline.windows if w.score is not None]
        self.windows.labels(model, "upload").inc(len(scored))
        self.anomalies.labels(model, "upload").inc(sum(bool(w.anomalous) for w in scored))

    def text(self) -> bytes:
        return generate_latest(self.registry)
