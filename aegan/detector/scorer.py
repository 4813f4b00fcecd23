"""What batch scoring and timelines need of a detector: a small interface below ``Detector``.

``batch_scoring`` and ``timeline`` turn recordings into spectrograms and
score them; they need only these members, so they depend on this protocol
rather than on ``Detector`` itself, and ``Detector`` can delegate to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from aegan.config.schema import Config
from aegan.detector.waveforms import Item
from aegan.model.scores import ClipScores


class ClipScorer(Protocol):
    """Spectrograms of recordings, their 19 scores, and the decision rule."""

    cfg: Config

    @property
    def score_name(self) -> str: ...

    @property
    def clip_seconds(self) -> float: ...

    def threshold(self, score: str | None = None) -> float: ...

    def decide(self, values: np.ndarray, score: str | None = None) -> np.ndarray: ...

    def spectrogram(
        self, item: Item, sample_rate: int | None = None, what: str | None = None
    ) -> np.ndarray: ...

    def checked_spectrogram(self, wave: np.ndarray, what: str) -> np.ndarray: ...

    def score_spectrograms(
        self, spectrograms: Sequence[np.ndarray], *, batch_size: int = 256
    ) -> ClipScores: ...
