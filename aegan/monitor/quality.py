"""Whether a window's audio is worth a score: not silent, finite, without dropouts or clipping.

A microphone that went quiet, a stream that lost packets or a gain set too
high gives audio whose score means nothing; such a window becomes an
``unusable`` event, never a decision. The checks run on the window's mono
samples at the source's own rate, before resampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aegan.features.audio import unusable_reason


@dataclass(frozen=True)
class Quality:
    """Limits of usable audio (shares are of the window's samples)."""

    silence_dbfs: float = -80.0  # RMS below this is silence
    clip_share: float = 0.01  # samples at full scale (|x| >= clip_level)
    clip_level: float = 0.999
    dropout_share: float = 0.05  # samples in runs of one repeated value ...
    dropout_ms: float = 5.0  # ... at least this long

    def problem(self, mono: np.ndarray, sample_rate: int) -> str | None:
        """Why these samples cannot be scored, or None when they can."""
        reason = unusable_reason(mono)
        if reason is not None:
            return reason
        rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
        if 20 * np.log10(max(rms, 1e-12)) < self.silence_dbfs:
            return f"it is silence (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)"
        clipped = float(np.mean(np.abs(mono) >= self.clip_level))
        if clipped > self.clip_share:
            return f"{clipped:.1%} of its samples are clipped"
        dropped = dropout_fraction(mono, max(2, round(self.dropout_ms * sample_rate / 1000)))
        if dropped > self.dropout_share:
            return f"{dropped:.1%} of its samples are dropouts (one value repeated)"
        return None


def dropout_fraction(mono: np.ndarray, min_run: int) -> float:
    """Share of samples in runs of at least ``min_run`` equal consecutive samples."""
    changes = np.flatnonzero(np.diff(mono) != 0)
    bounds = np.concatenate(([0], changes + 1, [mono.size]))
    runs = np.diff(bounds)
    return float(runs[runs >= min_run].sum()) / mono.size
