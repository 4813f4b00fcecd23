"""An independent reference for resampling: tones sampled analytically at any rate.

torchaudio's default resampler is a Hann-windowed sinc low-pass. A window
method filter keeps its passband within the window's peak approximation error
of 1: for the Hann window -44 dB, 0.0063 (Oppenheim & Schafer, Discrete-Time
Signal Processing, table 7.2). A tone well inside the passband therefore comes
out with its amplitude within that factor, whatever the two rates.
"""

from __future__ import annotations

import math

import numpy as np

HANN_RIPPLE = 10 ** (-44 / 20)
"""Passband deviation of a Hann-windowed sinc filter: -44 dB."""

TONES = ((0.2, 310.0, 0.4), (0.1, 1130.0, 2.1), (0.05, 2470.0, 4.0), (0.08, 3690.0, 5.3))
"""(amplitude, Hz, phase): below half the Nyquist frequency of 16 kHz, inside the passband."""


def tones(rate: int, seconds: float = 1.5) -> np.ndarray:
    """The same sum of tones, sampled at ``rate``."""
    t = np.arange(round(seconds * rate)) / rate
    wave = sum(a * np.sin(2 * np.pi * f * t + phase) for a, f, phase in TONES)
    return np.asarray(wave, dtype=np.float32)


def peak_error() -> float:
    """The largest sample error a resampled ``tones`` may have: every tone off by the ripple."""
    return HANN_RIPPLE * sum(a for a, _, _ in TONES)


def power_error_db() -> float:
    """The largest change of a band's power in dB: amplitudes within (1 +- ripple)."""
    return 20 * math.log10(1 + HANN_RIPPLE)
