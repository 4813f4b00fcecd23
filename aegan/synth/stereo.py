"""Two-microphone clips like DCASE 2026's: the machine near (channel 0), and far (channel 1).

A factory floor adds sound the near microphone hears too: a diffuse ambient
noise of a colour and level that change from clip to clip, and the hum of a
machine nearby. Both microphones hear the ambient sound at the same level (two
independent draws of the same spectrum: a diffuse field), and the nearby hum
alike; the machine itself reaches the far microphone ``FAR_ATTENUATION_DB``
quieter. So the far channel is mostly the surroundings, a noise reference for
the near one (docs/method.md, the channel setting).
"""

from __future__ import annotations

import numpy as np

FAR_ATTENUATION_DB = 14.0
"""How much quieter the machine is at the far microphone than at the near one."""
LEVEL_SPREAD_DB = 6.0
"""The ambient level varies this much either side of the given level, clip to clip."""
_HUM_RANGE_HZ = (70.0, 400.0)


def _coloured_noise(rng: np.random.Generator, n: int, sr: int, tilt: float) -> np.ndarray:
    """Unit-RMS Gaussian noise whose power falls by ``tilt`` per octave above 100 Hz."""
    f = np.fft.rfftfreq(n, 1 / sr)
    gain = (1 + f / 100.0) ** (-tilt / 2)
    spectrum = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) * gain
    noise = np.fft.irfft(spectrum, n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def _hum(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A nearby machine: a few harmonics of a random fundamental, unit RMS."""
    f0 = rng.uniform(*_HUM_RANGE_HZ)
    t = np.arange(n) / sr
    harmonics = [k for k in range(1, 6) if k * f0 < 0.45 * sr]
    tone = sum(rng.uniform(0.3, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3))
               for k in harmonics)  # fmt: skip
    return tone / (np.sqrt(np.mean(tone**2)) + 1e-12)


def two_microphones(
    near: np.ndarray, rng: np.random.Generator, sr: int, noise_db: float
) -> np.ndarray:
    """(samples, 2) int16: ``near`` (the machine at the near mic) with its surroundings
    ``noise_db`` dB relative to it (give e.g. -6 for noise 6 dB below the machine), and the
    far microphone's channel."""
    n = near.size
    machine = near.astype(np.float64) / 32768.0
    rms = np.sqrt(np.mean(machine**2)) + 1e-12
    level = rms * 10 ** ((noise_db + rng.uniform(-LEVEL_SPREAD_DB, LEVEL_SPREAD_DB)) / 20)
    tilt = rng.uniform(0.5, 2.5)
    hum = _hum(rng, n, sr) * rng.uniform(0.3, 1.0)
    ambient = [_coloured_noise(rng, n, sr, tilt) + hum for _ in range(2)]  # same field, two mics
    far_gain = 10 ** (-FAR_ATTENUATION_DB / 20)
    channels = np.stack([machine + level * ambient[0], far_gain * machine + level * ambient[1]], 1)
    return np.clip(np.round(channels * 32767.0), -32768, 32767).astype(np.int16)
