"""What a reader needs from the monitor, and the one way it turns samples into a waiting window."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aegan.monitor.pipeline import PendingWindow, SourceRuntime
from aegan.monitor.quality import Quality
from aegan.monitor.windows import RawWindow, at_rate

NO_SAMPLES = np.empty(0, np.float32)


@dataclass
class Feed:
    """A reader's link to its source in the monitor."""

    name: str
    model_rate: int
    window_seconds: float
    hop_seconds: float
    quality: Quality
    runtime: SourceRuntime
    stopping: threading.Event
    put: Callable[[PendingWindow], None]

    def window(
        self, raw: RawWindow, start_ts: float, what: str, *, file: str | None = None,
        index: int = 0, last: bool = False, stamp: list[int] | None = None,
    ) -> None:  # fmt: skip
        """Check a window's audio, bring it to the model's rate and queue it."""
        problem = self.quality.problem(raw.mono, raw.rate)
        wave = NO_SAMPLES if problem else at_rate(raw.mono, raw.rate, self.model_rate)
        self.put(PendingWindow(
            file, index, last, raw.offset, raw.seconds, start_ts, wave,
            None if problem is None else f"{what} is unusable: {problem}", what, stamp,
        ))  # fmt: skip
