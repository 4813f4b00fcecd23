"""Resampling: how much a recording's score moves when it arrives at 44.1 or 48 kHz.

A normal clip made at 16 kHz is sent 16 -> 44.1 (or 48) -> 16 kHz with each
candidate resampler, then scored by a model as the original is. Measured on
real-length clips (10 s, DCASE's length; synthetic machine sounds of the demo's
kind), per resampler and rate:

- score bias: the mean relative change of the model's score, and how many
  decisions flip;
- top mel bands: the dB the model's top 8 mel bands lose, and the dB the
  full-size features' bands above 7.5 kHz lose (128 mels);
- throughput: seconds of 48 kHz audio brought to 16 kHz per second, and its
  fraction of the fastest candidate measured in the same run.

``aegan`` is what ``features.audio.resample`` does now. The model is ``--model``
(a name or bundle; a trained one, e.g. the demo's, makes the bias meaningful).

    python benchmarks/resampling.py --model demo-fan22 [--clips 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import soxr
import torch
import torchaudio.functional as AF

from aegan.config.schema import FeatureConfig
from aegan.detector.detector import Detector
from aegan.features.audio import resample as aegan_resample
from aegan.features.logmel import MelTransform, mel_filterbank
from aegan.synth.sound import synthesize_pcm16

RATE = 16000
TOP_BANDS = 8
TOP_HZ = 7500.0
FULL_SIZE = FeatureConfig()


def full_size_top(waves: list[np.ndarray]) -> np.ndarray:
    """Mean dB of the full-size features' mel bands peaking above 7.5 kHz, per clip."""
    basis = mel_filterbank(FULL_SIZE)
    peak_hz = basis.argmax(axis=1) * RATE / FULL_SIZE.n_fft
    transform = MelTransform(FULL_SIZE)
    return np.array([transform(w)[peak_hz >= TOP_HZ].mean() for w in waves])


Resampler = Callable[[np.ndarray, int, int], np.ndarray]


def _torchaudio(**options: object) -> Resampler:
    def run(x: np.ndarray, a: int, b: int) -> np.ndarray:
        return AF.resample(torch.from_numpy(np.ascontiguousarray(x)), a, b, **options).numpy()

    return run


def _soxr(quality: str) -> Resampler:
    def run(x: np.ndarray, a: int, b: int) -> np.ndarray:
        return soxr.resample(x, a, b, quality=quality).astype(np.float32)

    return run


CANDIDATES: dict[str, Resampler] = {
    "aegan": aegan_resample,
    "torchaudio default": _torchaudio(),
    "torchaudio kaiser_best": _torchaudio(
        lowpass_filter_width=64,
        rolloff=0.9475937167399596,
        resampling_method="sinc_interp_kaiser",
        beta=14.769656459379492,
    ),
    "soxr HQ": _soxr("HQ"),
    "soxr VHQ": _soxr("VHQ"),
}


def clips(count: int, seconds: float) -> list[np.ndarray]:
    """Normal machine sounds of the demo's kind (fan, section 00, source domain)."""
    rng = np.random.default_rng(0)
    n = int(seconds * RATE)
    return [
        synthesize_pcm16("fan", "00", 0, None, rng, n, RATE).astype(np.float32) / 32768
        for _ in range(count)
    ]


def round_trip(resampler: Resampler, wave: np.ndarray, rate: int) -> np.ndarray:
    back = resampler(resampler(wave, RATE, rate), rate, RATE)
    return np.pad(back, (0, max(0, len(wave) - len(back))))[: len(wave)]


def throughput(resampler: Resampler, wave48: np.ndarray, repeats: int = 3) -> float:
    """Seconds of 48 kHz audio brought to 16 kHz per second (best of ``repeats``)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        resampler(wave48, 48000, RATE)
        best = min(best, time.perf_counter() - start)
    return len(wave48) / 48000 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model name or bundle path")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    detector = Detector.load(args.model)
    if detector.cfg.feat.sample_rate != RATE:
        raise SystemExit(f"{args.model} is a {detector.cfg.feat.sample_rate} Hz model")
    waves = clips(args.clips, args.seconds)
    base = detector.score(waves)
    base_decisions = detector.decide(base)
    top = [detector.log_mel([w])[0][-TOP_BANDS:].mean() for w in waves]
    full_top = full_size_top(waves)
    wave48 = _soxr("VHQ")(np.concatenate(waves), RATE, 48000)
    speeds = {name: throughput(r, wave48) for name, r in CANDIDATES.items()}
    fastest = max(speeds.values())
    print(
        f"model {detector.name}: {args.clips} normal clips of {args.seconds:g} s, "
        f"threshold {detector.threshold():.4g}, {int(base_decisions.sum())} of them anomalous as made"
    )
    print(f"{'resampler':24s} {'rate':>6s} {'score bias':>11s} {'flips':>6s} "
          f"{'top-8 mel loss':>15s} {'>7.5 kHz loss (128 mels)':>25s} "
          f"{'48k->16k audio s/s':>19s} {'of fastest':>10s}")  # fmt: skip
    for name, resampler in CANDIDATES.items():
        for rate in (44100, 48000):
            back = [round_trip(resampler, w, rate) for w in waves]
            values = detector.score(back)
            bias = float(np.mean((values - base) / np.abs(base)))
            flips = int((detector.decide(values) != base_decisions).sum())
            loss = float(np.mean([t - detector.log_mel([b])[0][-TOP_BANDS:].mean()
                                  for t, b in zip(top, back, strict=True)]))  # fmt: skip
            full_loss = float(np.mean(full_top - full_size_top(back)))
            print(f"{name:24s} {rate:6d} {100 * bias:+10.2f}% {flips:6d} {loss:12.2f} dB "
                  f"{full_loss:22.2f} dB {speeds[name]:19.0f} "
                  f"{speeds[name] / fastest:10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
