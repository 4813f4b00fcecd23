"""Reading a long recording window by window, with bounded memory (docs/method.md section 13).

A window is read from the file at its own sample rate, reduced to the
config's channel (``feat.channel``: the mix, or one channel) and resampled exactly as ``features.audio.read_audio`` treats a file holding just
that stretch, so a window scores as the same stretch cut out as a clip would.
Only the windows of one batch are in memory at a time, whatever the length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.config.schema import MIX, Channel
from aegan.errors import AudioError, UsageError
from aegan.features.audio import (
    AudioInfo,
    pick_channel,
    probe,
    require_channel,
    to_model_rate,
)
from aegan.features.opening import open_failure


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows of a recording start and how long they are, in the file's samples."""

    info: AudioInfo
    starts: np.ndarray  # first sample of each window, at the file's rate
    length: int  # samples per window at the file's rate

    def seconds(self, sample: int) -> float:
        return sample / self.info.sample_rate


def window_starts(first: int, stop: int, length: int, hop: int) -> np.ndarray:
    """Window starts from ``first`` every ``hop`` samples, plus one ending on ``stop``.

    A stretch shorter than one window is one window over the whole stretch
    (the caller then shortens ``length``); the extra last window makes every
    sample belong to some window.
    """
    if stop - first <= length:
        return np.array([first], dtype=np.int64)
    starts = np.arange(first, stop - length + 1, hop, dtype=np.int64)
    if starts[-1] != stop - length:
        starts = np.append(starts, stop - length)
    return starts


def plan_windows(
    path: Path,
    sample_rate: int,
    window_seconds: float,
    hop_seconds: float,
    start: float | None = None,
    end: float | None = None,
    channel: Channel = MIX,
) -> WindowPlan:
    """The windows covering ``[start, end)`` seconds of a file (default: all of it).

    A file without the ``channel`` read is refused here, before any window is read.
    """
    check_hop(hop_seconds, window_seconds)
    info = probe(path, sample_rate)
    require_channel(info.channels, channel, str(path))
    first, stop = stretch(info, start, end)
    length = round(window_seconds * info.sample_rate)
    hop = max(1, round(hop_seconds * info.sample_rate))
    starts = window_starts(first, stop, length, hop)
    return WindowPlan(info=info, starts=starts, length=min(length, stop - first))


def check_hop(hop_seconds: float, window_seconds: float | None = None) -> None:
    """Refuse a hop between windows that is not a positive, finite number of seconds, or
    (given the window's length) one longer than a window: the stretch between two windows
    would go unscored, and an anomaly there unseen."""
    if not (hop_seconds > 0 and np.isfinite(hop_seconds)):
        raise UsageError(
            f"The hop must be a positive number of seconds, not {hop_seconds!r}.",
            "Give e.g. --hop 5 for windows starting every 5 seconds.",
        )
    if window_seconds is not None and hop_seconds > window_seconds + HOP_TOLERANCE:
        raise UsageError(
            f"The hop ({hop_seconds:g} s) is longer than a window ({window_seconds:.2f} s): "
            f"{hop_seconds - window_seconds:.2f} s after every window would go unscored, so "
            "an anomaly there could pass unseen.",
            f"Give --hop {window_seconds:.2f} or less (the default is one window).",
        )


HOP_TOLERANCE = 1e-6
"""Seconds a hop may exceed the window by (a rounded --hop of exactly one window)."""


def stretch(info: AudioInfo, start: float | None, end: float | None) -> tuple[int, int]:
    """``[start, end)`` seconds of a file as sample indices, checked to lie inside it."""
    begin = 0.0 if start is None else float(start)
    finish = info.seconds if end is None else float(end)
    if not (np.isfinite(begin) and np.isfinite(finish) and 0 <= begin < finish):
        raise UsageError(
            f"Cannot take {begin:g} s to {finish:g} s of {info.path}: "
            "the start must be at least 0 and before the end.",
        )
    if finish > info.seconds + 1e-9:
        raise UsageError(
            f"{info.path} lasts {info.seconds:.2f} s; the stretch ends at {finish:g} s.",
            "Give an --end within the recording.",
        )
    return round(begin * info.sample_rate), min(info.samples, round(finish * info.sample_rate))


def read_stretch(
    fh: sf.SoundFile, first: int, length: int, sample_rate: int, channel: Channel = MIX
) -> np.ndarray:
    """Samples ``[first, first + length)`` of an open file's ``channel``, float32 at ``sample_rate``."""
    fh.seek(first)
    data = fh.read(length, dtype="float32", always_2d=True)
    if data.shape[0] < length:
        raise AudioError(
            f"Cannot read {fh.name}: it ended early ({data.shape[0]} of {length} samples)."
        )
    mono = pick_channel(data, channel, str(fh.name))
    return np.ascontiguousarray(
        to_model_rate(mono, fh.samplerate, sample_rate, fh.name), np.float32
    )


def read_windows(
    plan: WindowPlan, sample_rate: int, per_batch: int, channel: Channel = MIX
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """The windows in batches of ``per_batch``: (their starts, their waveforms of ``channel``)."""
    path = plan.info.path
    try:
        with sf.SoundFile(str(path)) as fh:
            for begin in range(0, len(plan.starts), per_batch):
                starts = plan.starts[begin : begin + per_batch]
                yield (
                    starts,
                    [read_stretch(fh, int(s), plan.length, sample_rate, channel) for s in starts],
                )
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise open_failure(path, exc) from None


def read_part(
    path: Path,
    sample_rate: int,
    start: float | None,
    end: float | None,
    channel: Channel = MIX,
) -> np.ndarray:
    """``[start, end)`` seconds of a file's ``channel``, float32 at ``sample_rate``, as a clip reads."""
    info = probe(path, sample_rate)
    first, stop = stretch(info, start, end)
    try:
        with sf.SoundFile(str(path)) as fh:
            return read_stretch(fh, first, stop - first, sample_rate, channel)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise open_failure(path, exc) from None
