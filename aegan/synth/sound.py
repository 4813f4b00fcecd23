"""The synthetic machine voice: the samples of one clip, normal or anomalous.

``aegan.synth.dataset`` plans a DCASE tree (which clips, their names, their ground
truth); this module is the acoustics behind each clip, kept apart so the sound
can be read and tuned without the naming and file-writing around it.

The sound of a clip: harmonics of a base frequency set by machine type, section
(or machine ID) and domain, slow amplitude and frequency modulation, coloured
broadband noise, and small random variation per clip. Anomalies change the
spectrum (an extra non-harmonic partial, a frequency drift, clicks, a
band-limited noise burst), and every clip is scaled to a loudness drawn from
one distribution, so loudness alone tells nothing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

# Ways an anomalous clip departs from normal; the planner deals them out in turn.
ANOMALY_KINDS = ("partial", "drift", "clicks", "burst")

# Condition index of the target domain; 0 and 1 are the two source conditions.
TARGET_CONDITION = 2

# Fundamental of each machine type's hum (Hz), before section and domain shifts.
_BASE_HZ = {
    "fan": 110.0, "pump": 150.0, "slider": 85.0, "valve": 60.0, "ToyCar": 190.0,
    "ToyConveyor": 70.0, "bearing": 240.0, "gearbox": 130.0, "ToyTrain": 170.0,
}  # fmt: skip


def _base_hz(machine: str) -> float:
    """A machine type's fundamental; a type without its own (2023 on) gets one from its name."""
    return _BASE_HZ.get(machine) or 60.0 + zlib.crc32(machine.encode()) % 180


_CONDITION_F0 = (1.0, 1.005, 1.06)  # a target machine runs faster, like a changed speed
_SECTION_F0_STEP = 0.07
_MAX_HARMONICS = 16
_NYQUIST_USE = 0.45  # keep every component below this fraction of the sample rate
_LEVEL_DBFS = (-28.0, -22.0)  # loudness range of every clip, normal or not


@dataclass(frozen=True)
class _Voice:
    """The steady sound of one machine in one section and condition."""

    f0: float
    amplitudes: np.ndarray
    noise_ratio: float
    noise_corner_hz: float
    noise_slope: float
    am_rate: float
    am_depth: float
    fm_rate: float
    fm_depth: float


def _voice(machine: str, group: str, condition: int) -> _Voice:
    """A machine's steady sound; fixed per machine, section and condition, not per seed."""
    rng = np.random.default_rng([zlib.crc32(machine.encode()), int(group)])
    k = np.arange(1, _MAX_HARMONICS + 1)
    amplitudes = k ** -rng.uniform(0.4, 1.0) * np.exp(rng.normal(0.0, 0.5, k.size))
    target_balance = k**-0.3 * np.exp(rng.normal(0.0, 0.5, k.size))
    if condition == TARGET_CONDITION:
        amplitudes = amplitudes * target_balance
    f0 = _base_hz(machine) * (1 + _SECTION_F0_STEP * int(group)) * _CONDITION_F0[condition]
    return _Voice(
        f0=f0,
        amplitudes=amplitudes / np.sqrt(np.sum(amplitudes**2)),
        noise_ratio=rng.uniform(0.4, 0.8),
        noise_corner_hz=rng.uniform(300.0, 2000.0),
        noise_slope=rng.uniform(0.5, 1.5),
        am_rate=rng.uniform(0.5, 4.0),
        am_depth=rng.uniform(0.05, 0.2),
        fm_rate=rng.uniform(0.1, 0.5),
        fm_depth=rng.uniform(0.001, 0.004),
    )


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return x / max(_rms(x), 1e-12)


def _shaped_noise(rng: np.random.Generator, n: int, gain: np.ndarray) -> np.ndarray:
    """n samples of white noise shaped by ``gain`` (one value per rfft bin), unit RMS."""
    return _unit_rms(np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * gain, n))


def _frequency_ratio(
    voice: _Voice, rng: np.random.Generator, t: np.ndarray, kind: str | None, strength: float
) -> np.ndarray:
    """Instantaneous frequency over f0: slow wobble, plus a steady drift for that anomaly."""
    ratio = 1 + voice.fm_depth * np.sin(2 * np.pi * voice.fm_rate * t + rng.uniform(0, 2 * np.pi))
    if kind == "drift":
        drift = rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.07) * strength
        ratio = ratio * (1 + drift * t / t[-1])
    return ratio


def _harmonic_tone(
    voice: _Voice, rng: np.random.Generator, phase: np.ndarray, top_ratio: float, sr: int
) -> np.ndarray:
    """Sum of the voice's harmonics on a shared phase track, per-clip jittered, unit RMS.

    The phase is wrapped before going to float32, where sines are several times
    cheaper and still exact to about 1e-5 rad.
    """
    count = int(min(_MAX_HARMONICS, _NYQUIST_USE * sr // (voice.f0 * top_ratio)))
    amplitudes = voice.amplitudes[:count] * np.exp(rng.normal(0.0, 0.08, count))
    offsets = rng.uniform(0, 2 * np.pi, count)
    k = np.arange(1, count + 1, dtype=np.float32)
    wrapped = np.mod(phase, 2 * np.pi).astype(np.float32)
    sines = np.sin(k[:, None] * wrapped[None, :] + offsets[:, None].astype(np.float32))
    tone = np.einsum("k,kn->n", amplitudes.astype(np.float32), sines)  # matmul is slow here
    return _unit_rms(tone.astype(np.float64))


def _extra_partial(rng: np.random.Generator, phase: np.ndarray, strength: float) -> np.ndarray:
    """A partial between harmonics (a loose part, a rub), riding on the same wobble.

    At most 5.65 f0, which ``aegan.synth.dataset.MIN_SAMPLE_RATE`` keeps below Nyquist for every
    machine.
    """
    ratio = rng.integers(1, 6) + rng.uniform(0.35, 0.65)
    return 0.45 * strength * np.sqrt(2) * np.sin(ratio * phase + rng.uniform(0, 2 * np.pi))


def _clicks(rng: np.random.Generator, n: int, sr: int, strength: float) -> np.ndarray:
    """Impacts: short resonant rings at random times, peaks a few times the hum's RMS."""
    count = max(1, rng.poisson(rng.uniform(4.0, 10.0) * n / sr))
    impulses = np.zeros(n)
    impulses[rng.integers(0, n, count)] = rng.uniform(0.5, 1.0, count) * rng.choice(
        [-1.0, 1.0], count
    )
    decay = rng.uniform(0.003, 0.008)
    kt = np.arange(int(6 * decay * sr)) / sr
    ring = np.exp(-kt / decay) * np.sin(
        2 * np.pi * rng.uniform(1500.0, _NYQUIST_USE * sr * 0.8) * kt
    )
    return 6.0 * strength * np.fft.irfft(np.fft.rfft(impulses) * np.fft.rfft(ring, n), n)


def _burst(rng: np.random.Generator, n: int, sr: int, strength: float) -> np.ndarray:
    """A band of noise for part of the clip (a leak, a scrape)."""
    centre = rng.uniform(1200.0, _NYQUIST_USE * sr * 0.8)
    f = np.fft.rfftfreq(n, 1 / sr)
    band = (f > centre / 2 ** (1 / 3)) & (f < centre * 2 ** (1 / 3))
    noise = _shaped_noise(rng, n, band.astype(float))
    length = int(rng.uniform(0.15, 0.35) * n)
    start = int(rng.integers(0, n - length + 1))
    gate = np.zeros(n)
    gate[start : start + length] = np.hanning(length)
    return 1.6 * strength * noise * gate


def _additive_anomaly(
    kind: str | None, rng: np.random.Generator, phase: np.ndarray, sr: int, strength: float
) -> np.ndarray | float:
    """The sound an anomaly adds on top of the hum (drift changes the hum instead)."""
    n = phase.size
    if kind == "partial":
        return _extra_partial(rng, phase, strength)
    if kind == "clicks":
        return _clicks(rng, n, sr, strength)
    if kind == "burst":
        return _burst(rng, n, sr, strength)
    return 0.0


def _noise_gain(voice: _Voice, n: int, sr: int) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1 / sr)
    return (1 + f / voice.noise_corner_hz) ** -voice.noise_slope


def _pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def synthesize_pcm16(
    machine: str,
    group: str,
    condition: int,
    kind: str | None,
    rng: np.random.Generator,
    n: int,
    sr: int,
    strength: float = 1.0,
) -> np.ndarray:
    """One clip's 16-bit samples, at a loudness drawn apart from ``kind`` so level tells nothing."""
    voice = _voice(machine, group, condition)
    t = np.arange(n) / sr
    f0 = voice.f0 * (1 + rng.normal(0.0, 0.002))
    ratio = _frequency_ratio(voice, rng, t, kind, strength)
    phase = 2 * np.pi * f0 * np.cumsum(ratio) / sr
    tone = _harmonic_tone(voice, rng, phase, float(ratio.max()), sr)
    tone *= 1 + voice.am_depth * np.sin(2 * np.pi * voice.am_rate * t + rng.uniform(0, 2 * np.pi))
    noise_level = voice.noise_ratio * np.exp(rng.normal(0.0, 0.1))
    noise = noise_level * _shaped_noise(rng, n, _noise_gain(voice, n, sr))
    clip = tone + noise + _additive_anomaly(kind, rng, phase, sr, strength)
    level = 10 ** (rng.uniform(*_LEVEL_DBFS) / 20)
    return _pcm16(level * _unit_rms(clip))
