"""From a spectrogram to model inputs: scaling and segments (docs/method.md section 2).

A clip's raw dB log-mel spectrogram (n_mels, frames) is scaled with the
training set's global max and min to [-1, 1] and cut into windows of
``segment_frames`` frames every ``segment_hop`` frames. Cutting happens here
only, as strided views; the "too short" rule (fewer frames than one window)
lives here only too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aegan.config.schema import FeatureConfig
from aegan.errors import AudioError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Scaler:
    """Maps dB values linearly so that the training set's [min, max] becomes [-1, 1]."""

    max: float
    min: float

    @property
    def center(self) -> float:
        return (self.max + self.min) / 2.0

    @property
    def half_range(self) -> float:
        return (self.max - self.min) / 2.0

    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        return (x - self.center) / self.half_range


def segment_view(spec: np.ndarray, frames: int, hop: int = 1) -> np.ndarray:
    """Windows of ``frames`` columns every ``hop`` columns: (S, n_mels, frames), a view."""
    windows = np.lib.stride_tricks.sliding_window_view(spec, frames, axis=1)[:, ::hop]
    return windows.transpose(1, 0, 2)


def covering_starts(n_frames: int, frames: int, hop: int) -> np.ndarray:
    """Start frames of the segments to reconstruct: every ``hop``, plus one ending on the last frame."""
    starts = np.arange(0, n_frames - frames + 1, hop)
    if starts[-1] != n_frames - frames:
        starts = np.append(starts, n_frames - frames)
    return starts


def shortest_seconds(feat: FeatureConfig) -> float:
    """The shortest recording that gives one full segment."""
    return (feat.segment_frames - 1) * feat.hop_length / feat.sample_rate


def require_one_segment(n_frames: int, feat: FeatureConfig, what: str, length: str = "") -> None:
    """Refuse a recording shorter than one model input: it has nothing to score.

    ``what`` names it (a path) and ``length`` may say how long it is ("3.10 s ").
    """
    if n_frames < feat.segment_frames:
        raise AudioError(
            f"{what} is too short: {length}it gives {n_frames} frames, fewer than one "
            f"{feat.segment_frames}-frame model input.",
            f"Use recordings of at least {shortest_seconds(feat):.2f} s; remove or replace this one.",
        )
