"""Log-mel spectrograms in dB, as librosa computes them (docs/method.md section 2).

Both transforms reproduce librosa's ``melspectrogram`` followed by
``power_to_db(ref=1.0)`` (the original research code's pipeline): periodic Hann
window, centred frames with zero padding, power 2, Slaney mel scale and area
normalisation, then dB clipped per clip at ``max - top_db``.

- ``MelTransform`` is numpy and scipy only, so that ``aegan prepare`` computes
  features without importing torch (start-up), and fast on a CPU: each mel
  filter is non-zero on a few FFT bins only, so the filterbank is applied in
  blocks of neighbouring bands over their bins instead of one dense product
  (7% of the dense product's work at the default settings). A clip goes through
  in one piece (a long recording in pieces of ``FRAME_CHUNK`` frames), so each
  stage is one library call that releases the interpreter lock for its whole
  length and worker threads compute side by side.
- ``LogMel`` takes torch tensors: on the CPU it runs ``MelTransform`` (the
  features a model scores are then exactly the cached ones); on a GPU it runs
  the same steps in torch.

The axis helpers give each frame's time and each mel band's frequency.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from aegan.config.schema import FeatureConfig

if TYPE_CHECKING:
    import torch

AMIN = 1e-10  # librosa's floor before taking the log
DB_PER_NEPER = 10.0 / np.log(10.0)  # 10 log10(x) = DB_PER_NEPER * ln(x)
BAND_BLOCK = 8  # mel bands per block of the filterbank product: BLAS-sized, few zeros
# Frames transformed at a time: a 10-s clip (313 frames) in one piece. Small pieces cost
# more than they save: two threads making many short calls each spend their time handing
# over the interpreter lock (measured: 32-frame pieces took 5.2 ms of CPU per clip on two
# threads against 3.7 ms whole, and no less wall time than one thread).
FRAME_CHUNK = 512


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) Slaney filters with area normalisation, as librosa builds them.

    Computed in float64 and stored in float32, as librosa does.
    """
    bins = np.linspace(0.0, cfg.sample_rate / 2.0, cfg.n_fft // 2 + 1)
    edges = mel_band_edges(cfg)
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def hann_window(n_fft: int) -> np.ndarray:
    """The periodic Hann window (librosa's and torch's default for spectra)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread while inside: the mel products are small, and a threaded
    BLAS spins its idle threads after each one on the cores the other clips' workers need
    (measured: twice the CPU time of `aegan prepare` on two cores)."""
    from threadpoolctl import threadpool_limits  # here: only computing needs it

    with threadpool_limits(limits=1, user_api="blas"):
        yield


class MelTransform:
    """One waveform (samples,) float32 to its (n_mels, frames) dB log-mel, without torch."""

    def __init__(self, cfg: FeatureConfig) -> None:
        import scipy.fft  # here, not at import time: only computing needs it

        self._rfft = scipy.fft.rfft  # vectorised pocketfft, float32 in and out
        self.n_fft, self.hop_length, self.top_db = cfg.n_fft, cfg.hop_length, cfg.top_db
        self.sample_rate = cfg.sample_rate
        self.window = hann_window(cfg.n_fft)
        basis = mel_filterbank(cfg)
        self.blocks = [
            _band_block(basis, m, m + BAND_BLOCK) for m in range(0, cfg.n_mels, BAND_BLOCK)
        ]
        self.n_mels = cfg.n_mels

    def frames(self, wave: np.ndarray) -> np.ndarray:
        """(frames, n_fft) centred, zero-padded frames of one waveform, as a strided view."""
        half = self.n_fft // 2
        padded = np.pad(np.asarray(wave, dtype=np.float32), (half, half))
        return np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop_length]

    def squares(self, frames: np.ndarray) -> np.ndarray:
        """(frames, 2 * bins) squared real and imaginary parts of the windowed frames' spectra,
        interleaved: the STFT stage. The mel product adds each pair (``mel``), so the power
        spectrum is never formed on its own."""
        spectrum = self._rfft(frames * self.window, axis=-1)
        parts = spectrum.view(np.float32)  # complex64 as (re, im) pairs, no copy
        return np.multiply(parts, parts, out=parts)

    def mel(self, squares: np.ndarray, out: np.ndarray) -> np.ndarray:
        """(n_mels, frames) mel power into ``out``: each block of bands over the bins it uses.

        Written band-major, the cache's layout, so that no transpose follows.
        """
        for bands, lo, weights in self.blocks:
            columns = squares[:, 2 * lo : 2 * lo + weights.shape[1]]
            np.matmul(weights, columns.T, out=out[bands])
        return out

    def to_db(self, mel: np.ndarray) -> np.ndarray:
        """(n_mels, frames) mel power to dB in place, clipped at the clip's ``max - top_db``.

        10 log10(x) is taken as (10 / ln 10) ln(x): numpy's float32 ln is vectorised and
        log10 is not (5x slower); the two differ by float32 rounding.
        """
        np.maximum(mel, AMIN, out=mel)
        np.log(mel, out=mel)
        mel *= DB_PER_NEPER
        np.maximum(mel, mel.max() - self.top_db, out=mel)  # a NaN top_db gives NaN: refused later
        return mel

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        frames = self.frames(wave)
        mel = np.empty((self.n_mels, len(frames)), dtype=np.float32)
        for start in range(0, len(frames), FRAME_CHUNK):
            chunk = slice(start, start + FRAME_CHUNK)
            self.mel(self.squares(frames[chunk]), out=mel[:, chunk])
        return self.to_db(mel)


def _band_block(basis: np.ndarray, first: int, stop: int) -> tuple[slice, int, np.ndarray]:
    """Bands ``first:stop``, the first FFT bin any of them uses, and their weights for the
    interleaved squares of those bins: (bands, 2 * bins), each bin's weight twice."""
    rows = basis[first:stop]
    used = np.flatnonzero(rows.any(axis=0))
    lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
    weights = np.repeat(rows[:, lo:hi], 2, axis=1)
    return slice(first, first + len(rows)), lo, np.ascontiguousarray(weights)


class LogMel:
    """Batched dB log-mel of torch waveforms (B, T) -> (B, n_mels, frames), on their device.

    Clipping at ``max - top_db`` is per clip: clipping against the maximum of a
    whole batch would make a clip's features depend on its neighbours.
    """

    def __init__(self, cfg: FeatureConfig) -> None:
        import torch

        self.cfg = cfg
        self.transform = MelTransform(cfg)
        self.mel_basis = torch.from_numpy(mel_filterbank(cfg))
        self.window = torch.from_numpy(hann_window(cfg.n_fft))

    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        import torch

        if waves.device.type == "cpu":
            with one_blas_thread():
                mels = [self.transform(w) for w in waves.detach().numpy()]
            return torch.from_numpy(np.stack(mels)) if mels else waves.new_zeros(0)
        return self.torch_log_mel(waves)

    def torch_log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """The same steps in torch, on the waveforms' device (a GPU's FFT and matmul)."""
        import torch

        spec = torch.stft(
            waves,
            n_fft=self.cfg.n_fft,
            hop_length=self.cfg.hop_length,
            window=self.window.to(waves.device),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(self.mel_basis.to(waves.device), power)
        db = 10.0 * torch.log10(torch.clamp(mel, min=AMIN))
        floor = db.amax(dim=(-2, -1), keepdim=True) - self.cfg.top_db
        return torch.maximum(db, floor)


_F_SP = 200.0 / 3  # Slaney mel scale: linear below 1 kHz, this many Hz per mel


_MIN_LOG_HZ = 1000.0


_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP


_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default, as the features use)."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of ``hz_to_mel``."""
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, mel * _F_SP)


def mel_band_edges(feat: FeatureConfig) -> np.ndarray:
    """The n_mels + 2 corner frequencies (Hz) of the triangular mel filters, 0 Hz to Nyquist."""
    top = hz_to_mel(feat.sample_rate / 2.0)
    return mel_to_hz(np.linspace(0.0, float(top), feat.n_mels + 2))


def mel_centre_frequencies(feat: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of each mel band: the peak of its triangular filter."""
    return mel_band_edges(feat)[1:-1]


def frame_times(n_frames: int, feat: FeatureConfig) -> np.ndarray:
    """Centre time (s) of each frame (centred STFT: frame t is centred on sample t * hop)."""
    return np.arange(n_frames) * feat.hop_length / feat.sample_rate


def frame_count(samples: int, hop_length: int) -> int:
    """Frames of a centred STFT (librosa's default) of ``samples`` samples."""
    return 1 + samples // hop_length
