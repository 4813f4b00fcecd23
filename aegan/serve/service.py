"""The state of one running service: its models, scoring queue, metrics and private folder.

Models load in a thread once the server is up, so ``/v1/health`` can say
"loading" meanwhile and "ready" once every model is in memory. A model that
fails to load stops the service; ``failure`` keeps the reason for the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aegan.errors import AeganError, UsageError
from aegan.monitor.monitor import Loader
from aegan.serve.batching import ScoringQueue
from aegan.serve.config import ServeConfig
from aegan.serve.metrics import Metrics
from aegan.serve.watching import Watch

if TYPE_CHECKING:
    from aegan.detector.detector import Detector

"""A model name (or bundle path) to a detector on its device; the CLI's picks the device."""


class NotReady(Exception):
    """The models are still loading (or failed to)."""


class Service:
    """Everything the routes share; built before the server starts, filled by ``load``."""

    def __init__(self, config: ServeConfig, folder: Path, loader: Loader) -> None:
        self.config = config
        self.folder = folder  # private (mode 0700); uploads live in folders inside it
        self.loader = loader
        self.detectors: dict[str, Detector] = {}
        self.queue: ScoringQueue | None = None
        self.watch: Watch | None = None
        self.metrics = Metrics(lambda: self.queue.depth if self.queue else 0)
        self.failure: AeganError | None = None
        self.ready = threading.Event()
        self.on_failure: Callable[[], None] = lambda: None  # set by the server: shut down

    @property
    def status(self) -> str:
        if self.failure is not None:
            return "failed"
        return "ready" if self.ready.is_set() else "loading"

    def load(self) -> None:
        """Load every model once, then start the scoring worker; run in a thread."""
        try:
            for spec in self.config.models:
                detector = self.loader(spec)
                self.detectors[detector.name or spec] = detector
            if self.config.watch is not None:
                self._start_watch(self.config.watch)
        except AeganError as exc:
            self.failure = exc
            self.on_failure()
            return
        self.queue = ScoringQueue(
            self.detectors, self.config.queue_size, self.config.batch_files,
            lambda job, outcome: self.metrics.count_upload(job.settings.model, outcome),
        )  # fmt: skip
        self.queue.start()
        self.ready.set()

    def _start_watch(self, plant_file: Path) -> None:
        from aegan.monitor.plant import load_plant

        plant = load_plant(plant_file)
        self.watch = Watch(
            plant.sources, self.detectors, self.loader, self.metrics, plant.heartbeat
        )
        self.watch.start()

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()
        if self.queue is not None:
            self.queue.stop()

    def scoring_queue(self) -> ScoringQueue:
        if self.queue is None:
            raise NotReady(self.status)
        return self.queue

    def detector(self, model: str | None) -> tuple[str, Detector]:
        """The model a request names (or the only one loaded); a wrong name lists the valid ones."""
        self.scoring_queue()  # refuses while loading
        names = sorted(self.detectors)
        if model is None:
            if len(names) == 1:
                return names[0], self.detectors[names[0]]
            raise UsageError(
                "This service serves several models; say which with ?model=NAME.",
                f"Serving: {', '.join(names)}.",
            )
        if model not in self.detectors:
            raise UnknownModel(model, names)
        return model, self.detectors[model]


class UnknownModel(AeganError):
    """A model name the service does not serve (HTTP 404)."""

    def __init__(self, model: str, names: list[str]) -> None:
        super().__init__(
            f"This service does not serve a model named {model!r}.",
            f"Serving: {', '.join(names)} (GET /v1/models lists them).",
        )
