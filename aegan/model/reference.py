"""The reference clip: what makes scores of recordings of any length comparable (docs/method.md section 13).

A sum-pooled score adds one distance per segment, so it grows with the
recording's length. It is therefore expressed relative to the model's
reference clip (the training clips' segment count): ``value * reference /
segments``. Clips of the reference length are left untouched, bit for bit,
so DCASE results do not move. The reference clip's duration is also the
window length of a timeline (``detector/timeline.py``).
"""

from __future__ import annotations

import math

import numpy as np

from aegan.config.schema import FeatureConfig
from aegan.features.logmel import frame_count
from aegan.score_names import FLOAT32_MAX, SCORE_NAMES, generator_score_parts

SUM_COLUMNS = np.array(
    [name.startswith("G_") and generator_score_parts(name)[1] == "sum" for name in SCORE_NAMES]
)
"""Which of the 19 score columns pool segments by sum: the length-dependent ones."""


def segment_count(n_frames: int, feat: FeatureConfig) -> int:
    """Segments of a spectrogram ``n_frames`` wide (0 when it is shorter than one segment)."""
    if n_frames < feat.segment_frames:
        return 0
    return (n_frames - feat.segment_frames) // feat.segment_hop + 1


def segment_counts(spectrograms, feat: FeatureConfig) -> np.ndarray:
    """Each spectrogram's segment count, as an int64 array."""
    return np.array([segment_count(s.shape[1], feat) for s in spectrograms], dtype=np.int64)


def rescaled_sums(sums: np.ndarray, counts: np.ndarray, reference: int) -> np.ndarray:
    """Sum-pooled scores, a row per clip, as if each clip had ``reference`` segments.

    Only rows whose count differs from the reference change; a diverged
    score (float32 max, see ``score_names.nan_to_max``) stays the maximum.
    The one rule for PyTorch scoring, calibration and the ONNX scorer.
    """
    counts = np.asarray(counts)
    rescale = counts != reference
    if not rescale.any():
        return sums
    out = np.array(sums, dtype=np.float64)
    block = out[rescale]
    ratio = (reference / counts[rescale].astype(np.float64)).reshape(-1, *[1] * (block.ndim - 1))
    out[rescale] = np.where(block == FLOAT32_MAX, block, block * ratio)
    return out


def relative_to_reference(values: np.ndarray, counts: np.ndarray, reference: int) -> np.ndarray:
    """(n_clips, 19) scores with the sum columns rescaled to ``reference`` segments."""
    if not (np.asarray(counts) != reference).any():
        return values
    out = values.copy()
    out[:, SUM_COLUMNS] = rescaled_sums(values[:, SUM_COLUMNS], counts, reference)
    return out


def require_reference(value: object, what: str) -> int:
    """A reference segment count given by a caller or a file: a positive integer, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive whole number of segments, not {value!r}")
    return int(value)


def clip_seconds(reference: int, feat: FeatureConfig) -> float:
    """The duration of the reference clip, in seconds: the roundest one giving ``reference`` segments.

    Many lengths give the same segment count (one frame every ``hop_length``
    samples, one segment every ``segment_hop`` frames); the one with the
    fewest decimals is chosen, so a model trained on 10-second clips has
    10-second windows, not 9.984-second ones.
    """
    fewest = (reference - 1) * feat.segment_hop + feat.segment_frames  # frames giving ``reference``
    most = fewest + feat.segment_hop - 1
    lowest = (fewest - 1) * feat.hop_length  # fewest samples giving ``fewest`` frames
    highest = most * feat.hop_length - 1
    for decimals in range(7):
        step = feat.sample_rate / 10**decimals  # samples per unit of this many decimals
        units = math.ceil(lowest / step)
        if units * step <= highest:
            seconds = round(units / 10**decimals, decimals)
            frames = frame_count(round(seconds * feat.sample_rate), feat.hop_length)
            if segment_count(frames, feat) == reference:
                return seconds
    return lowest / feat.sample_rate
