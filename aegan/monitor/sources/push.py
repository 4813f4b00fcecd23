"""A source a program feeds with samples (``Monitor.push``), e.g. audio arriving over HTTP."""

from __future__ import annotations

import queue
import time

import numpy as np

from aegan.errors import DataError
from aegan.monitor.sources.feed import Feed
from aegan.monitor.spec import PcmFormat, SourceSpec
from aegan.monitor.windows import StreamWindows

_END = None


class PushReader:
    """Windows of pushed samples, cut in the reader thread as they arrive."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.fmt = spec.pcm or PcmFormat("f32le", 16000, 1)
        self.queue: queue.Queue[np.ndarray | None] = queue.Queue()

    def push(self, samples: np.ndarray) -> None:
        frames = samples[:, None] if samples.ndim == 1 else samples
        if frames.ndim != 2 or frames.shape[1] != self.fmt.channels:
            raise DataError(
                f"Samples of shape {samples.shape} do not fit source {self.spec.name!r} "
                f"({self.fmt.channels} channels).",
                "Push (frames,) for one channel or (frames, channels).",
            )
        self.queue.put(np.ascontiguousarray(frames, np.float32))

    def end(self) -> None:
        self.queue.put(_END)

    def run(self, feed: Feed) -> None:
        windows = StreamWindows(self.fmt.rate, feed.window_seconds, feed.hop_seconds)
        t0, index = None, 0
        while not feed.stopping.is_set():
            try:
                frames = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if frames is _END:
                last = windows.finish()
                if last is not None:
                    feed.window(last, (t0 or time.time()) + last.offset, self._what(last),
                                index=index)  # fmt: skip
                return
            t0 = time.time() - windows.total / self.fmt.rate if t0 is None else t0
            for raw in windows.feed(frames):
                feed.window(raw, t0 + raw.offset, self._what(raw), index=index)
                index += 1

    def _what(self, raw) -> str:
        return f"{self.spec.name} from {raw.offset:.2f} s to {raw.offset + raw.seconds:.2f} s"

    def close(self) -> None:
        self.end()
