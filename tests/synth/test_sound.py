"""The synthetic machine sound: reproducible, level-matched clips whose anomalies can be heard."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import maximum_filter

from aegan.synth.sound import ANOMALY_KINDS, TARGET_CONDITION, synthesize_pcm16

SR = 16000
N = 2 * SR
MACHINES = ("fan", "pump", "slider", "valve", "ToyCar", "ToyConveyor", "bearing", "gearbox",
            "ToyTrain")  # fmt: skip
LEVEL_DBFS = (-28.0, -22.0)  # the documented loudness range of every clip


@cache
def clip(machine: str, kind: str | None, seed: int, group: str = "00", condition: int = 0,
         n: int = N, sr: int = SR) -> np.ndarray:  # fmt: skip
    """One clip, made once per test session (read-only)."""
    rng = np.random.default_rng([seed, 0 if kind is None else 1 + ANOMALY_KINDS.index(kind)])
    samples = synthesize_pcm16(machine, group, condition, kind, rng, n, sr)
    samples.flags.writeable = False
    return samples


def unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.sqrt(np.mean(x**2))


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean((x.astype(np.float64) / 32767.0) ** 2))))


# ---------------------------------------------------------------- measures of a clip

_GRID = np.geomspace(40.0, 3000.0, 6000)  # log-frequency axis of the hum's harmonics
_STEP = float(np.log(_GRID[1] / _GRID[0]))


def _log_spectrum(x: np.ndarray, sr: int = SR) -> np.ndarray:
    power = np.abs(np.fft.rfft(unit(x) * np.hanning(len(x)))) ** 2
    values = np.log(np.interp(_GRID, np.fft.rfftfreq(len(x), 1 / sr), power) + 1e-12)
    return values - values.mean()


def pitch_ratio(a: np.ndarray, b: np.ndarray, widest: float = 0.12) -> float:
    """How much higher b's harmonics lie than a's: the best-matching shift on a log-frequency axis."""
    sa, sb = _log_spectrum(a), _log_spectrum(b)
    reach = int(np.log(1 + widest) / _STEP)
    shifts = np.arange(-reach, reach + 1)
    match = [
        np.dot(sa[max(0, -k) : len(sa) - max(0, k)], sb[max(0, k) : len(sb) - max(0, -k)])
        / (len(sa) - abs(k))
        for k in shifts
    ]
    return float(np.exp(_STEP * shifts[int(np.argmax(match))]))


def drift(x: np.ndarray) -> float:
    """Relative pitch change from the first to the last quarter of a clip."""
    quarter = len(x) // 4
    return abs(pitch_ratio(x[:quarter], x[-quarter:]) - 1)


def crest_factor(x: np.ndarray) -> float:
    return float(np.abs(unit(x)).max())


def energy_swing(x: np.ndarray, frame: int = 800) -> float:
    """Loudest 50-ms frame over the median frame (RMS)."""
    y = unit(x)[: len(x) // frame * frame].reshape(-1, frame)
    levels = np.sqrt(np.mean(y**2, axis=1))
    return float(levels.max() / np.median(levels))


def power_spectrum(x: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(unit(x) * np.hanning(len(x)))) ** 2


# ---------------------------------------------------------------- tests


def test_a_clip_is_reproducible_from_its_seed_and_differs_across_seeds() -> None:
    a, b = clip("fan", None, seed=1), clip("fan", None, seed=1)
    assert np.array_equal(a, b)
    other = clip("fan", None, seed=2)
    assert not np.array_equal(a, other)
    # Two clips of one machine are two recordings: they are not even correlated sample by sample.
    assert abs(np.corrcoef(a.astype(float), other.astype(float))[0, 1]) < 0.2


@settings(max_examples=30, deadline=None)
@given(
    machine=st.sampled_from(MACHINES),
    kind=st.sampled_from([None, *ANOMALY_KINDS]),
    group=st.sampled_from(["00", "01", "02", "03", "04", "05", "06"]),
    condition=st.sampled_from([0, 1, TARGET_CONDITION]),
    sr=st.sampled_from([8000, 16000]),
    seconds=st.floats(0.5, 1.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_clip_has_the_asked_length_and_a_loudness_in_range_without_clipping(
    machine: str, kind: str | None, group: str, condition: int, sr: int, seconds: float, seed: int
) -> None:
    n = int(seconds * sr)
    samples = synthesize_pcm16(machine, group, condition, kind, np.random.default_rng(seed), n, sr)
    assert samples.dtype == np.int16 and samples.shape == (n,)
    assert LEVEL_DBFS[0] - 0.05 <= rms_dbfs(samples) <= LEVEL_DBFS[1] + 0.05
    assert np.abs(samples.astype(np.int32)).max() < 32767  # never clipped


def test_loudness_is_spread_over_the_range_alike_for_normal_and_anomalous_clips() -> None:
    normal = [rms_dbfs(clip("valve", None, seed, n=SR // 2)) for seed in range(24)]
    anomalous = [rms_dbfs(clip("valve", ANOMALY_KINDS[s % 4], s, n=SR // 2)) for s in range(24)]
    for levels in (normal, anomalous):
        assert max(levels) - min(levels) > 3.0  # drawn over the 6-dB range, not fixed
    assert abs(np.mean(normal) - np.mean(anomalous)) < 1.5  # level tells nothing


def test_sections_and_the_target_domain_change_the_hum_pitch() -> None:
    for machine in ("fan", "ToyCar", "valve"):
        same = pitch_ratio(clip(machine, None, 1), clip(machine, None, 2))
        section = pitch_ratio(
            clip(machine, None, 1, group="00"), clip(machine, None, 2, group="01")
        )
        target = pitch_ratio(
            clip(machine, None, 1, group="02"),
            clip(machine, None, 2, group="02", condition=TARGET_CONDITION),
        )
        assert abs(same - 1) < 0.01, machine
        assert section > 1.03 and target > 1.03, (machine, section, target)


# Each kind of anomaly against the measure that shows what it does to the sound.
MEASURES = {
    "drift": drift,  # the pitch moves during the clip
    "clicks": crest_factor,  # short impacts stand out of the hum
    "burst": energy_swing,  # a band of noise for part of the clip
}


@pytest.mark.parametrize("machine", ["fan", "valve", "ToyConveyor", "bearing", "gearbox"])
@pytest.mark.parametrize("kind", ["drift", "clicks", "burst"])
def test_each_anomaly_stands_out_of_every_normal_clip(kind: str, machine: str) -> None:
    measure = MEASURES[kind]
    normal = [measure(clip(machine, None, seed)) for seed in range(6)]
    anomalous = [measure(clip(machine, kind, seed)) for seed in range(4)]
    assert min(anomalous) > max(normal), (normal, anomalous)


@pytest.mark.parametrize("machine", ["fan", "valve", "ToyConveyor", "bearing", "gearbox"])
def test_a_partial_anomaly_adds_a_component_no_normal_clip_has(machine: str) -> None:
    reference = maximum_filter(
        np.mean([power_spectrum(clip(machine, None, seed)) for seed in range(5)], axis=0),
        size=41,  # +-10 Hz: each harmonic's slight wander from clip to clip
    )

    def strongest_new_db(x: np.ndarray) -> float:
        return float(10 * np.log10((power_spectrum(x) / reference).max()))

    normal = [strongest_new_db(clip(machine, None, seed)) for seed in range(5, 10)]
    partial = [strongest_new_db(clip(machine, "partial", seed)) for seed in range(4)]
    assert min(partial) > max(normal) + 6.0, (normal, partial)


def test_no_normal_clip_drifts_or_clicks() -> None:
    for machine in ("pump", "slider", "ToyTrain"):
        for seed in range(3):
            x = clip(machine, None, seed, group="01", condition=TARGET_CONDITION)
            assert drift(x) < 0.01 and crest_factor(x) < 5.0
