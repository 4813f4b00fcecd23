"""Cutting a source's audio into windows as a timeline does (``features.stream``).

Windows last one reference clip and start every hop; when a recording or a
stream ends, one more window ends on its last sample. A window's samples are
mixed to mono and resampled on their own, as ``features.stream.read_stretch``
does, so a window of a stream is the same numbers as the same stretch of a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from aegan.features.audio import resample


@dataclass
class RawWindow:
    """A window cut from a source: where it starts (samples at the source rate), mono samples."""

    first: int
    mono: np.ndarray  # at the source's rate
    rate: int

    @property
    def offset(self) -> float:
        return self.first / self.rate

    @property
    def seconds(self) -> float:
        return self.mono.size / self.rate


def to_mono(frames: np.ndarray) -> np.ndarray:
    """(N, channels) float32 to mono, as a file's window is mixed."""
    return frames.mean(axis=1) if frames.shape[1] > 1 else frames[:, 0]


def at_rate(mono: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """Mono samples at the model's rate, resampled as ``read_stretch`` resamples them."""
    if rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


class StreamWindows:
    """Windows of a stream fed in chunks of frames, ``hop`` apart, ``length`` long.

    Holds only the samples the next window needs. ``finish`` gives the extra
    window that ends on the stream's last sample, as a timeline's plan has it.
    """

    def __init__(self, rate: int, window_seconds: float, hop_seconds: float) -> None:
        self.rate = rate
        self.length = round(window_seconds * rate)
        self.hop = max(1, round(hop_seconds * rate))
        self.buffer = np.empty((0, 1), np.float32)
        self.buffer_first = 0  # stream sample index of buffer[0]
        self.next_first = 0  # stream sample index where the next window starts
        self.total = 0  # samples received

    def feed(self, frames: np.ndarray) -> Iterator[RawWindow]:
        """Add (N, channels) float32 frames; yield every window they complete."""
        if self.buffer.shape[1] != frames.shape[1]:
            self.buffer = np.empty((0, frames.shape[1]), np.float32)
        self.buffer = np.concatenate((self.buffer, frames))
        self.total += frames.shape[0]
        while self.next_first + self.length <= self.total:
            yield self._cut(self.next_first)
            self.next_first += self.hop
        self._trim()

    def finish(self) -> RawWindow | None:
        """The window ending on the last sample, if the hop left it out (None if too short)."""
        last = self.total - self.length
        if last < 0 or last <= self.next_first - self.hop:
            return None
        return self._cut(last)

    @property
    def unwindowed_seconds(self) -> float:
        """Audio received and not yet in any window."""
        return max(0, self.total - max(self.next_first - self.hop + self.length, 0)) / self.rate

    def _cut(self, first: int) -> RawWindow:
        begin = first - self.buffer_first
        frames = self.buffer[begin : begin + self.length]
        return RawWindow(first, np.ascontiguousarray(to_mono(frames)), self.rate)

    def _trim(self) -> None:
        keep_from = min(self.next_first, max(0, self.total - self.length))
        drop = keep_from - self.buffer_first
        if drop > 0:
            self.buffer = self.buffer[drop:]
            self.buffer_first = keep_from
