"""Shared helpers of the monitor tests: the small model and recordings of it."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def small_detector(small_bundle):
    """The small bundle loaded once per session (it is only read)."""
    from aegan.detector.detector import Detector

    return Detector.load_file(small_bundle, "fan-small")


NORMAL_HZ, ANOMALY_HZ = 440.0, 3000.0
"""The small model scores a 440 Hz tone in noise near 0.15 and a 3 kHz one near 0.45; its
threshold is near 0.33."""


def machine_sound(seconds: float, rate: int = 16000, seed: int = 0, freq: float = NORMAL_HZ):
    """A tone plus noise: normal at NORMAL_HZ, anomalous for the small model at ANOMALY_HZ."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    return wave.astype(np.float32)


def write_pcm16(path, wave, rate: int = 16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, rate, subtype="PCM_16")
    return path
