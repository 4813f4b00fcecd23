"""Log-mel spectrograms in dB, as librosa computes them (docs/method.md section 2).

Both transforms reproduce librosa's ``melspectrogram`` followed by
``power_to_db(ref=1.0)`` (the original research code's pipeline): periodic Hann
window, centred frames with zero padding, power 2, Slaney mel scale and area
normalisation, then dB clipped per clip at ``max - top_db``.

- ``MelTransform`` is numpy and scipy only, so that ``aegan prepare`` computes
  features without importing torch (start-up), and fast on a CPU: each mel
  filter is non-zero on a few FFT bins only, so the filterbank is applied in
  blocks of neighbouring bands over their bins instead of one dense product
  (7% of the dense product's work at the default settings), and frames go through in
  small chunks that stay in the CPU cache.
- ``LogMel`` takes torch tensors: on the CPU it runs ``MelTransform`` (the
  features a model scores are then exactly the cached ones); on a GPU it runs
  the same steps in torch.

The axis helpers give each frame's time and each mel band's frequency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aegan.config.schema import FeatureConfig

if TYPE_CHECKING:
    import torch

AMIN = 1e-10  # librosa's floor before taking the log
BAND_BLOCK = 8  # mel bands per block of the filterbank product: BLAS-sized, few zeros
# Frames transformed at a time. A whole 10-s clip's temporaries (8 MB) are given back to
# the OS after every clip and fault in again (measured: system time as large as the FFT's);
# 32 frames' (0.8 MB) stay in the allocator and in the CPU cache.
FRAME_CHUNK = 32


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


class MelTransform:
    """One waveform (samples,) float32 to its (n_mels, frames) dB log-mel, without torch."""

    def __init__(self, cfg: FeatureConfig) -> None:
        import scipy.fft  # here, not at import time: only computing needs it

        self._rfft = scipy.fft.rfft  # vectorised pocketfft, float32 in and out
        self.n_fft, self.hop_length, self.top_db = cfg.n_fft, cfg.hop_length, cfg.top_db
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

    def power(self, frames: np.ndarray) -> np.ndarray:
        """(frames, bins) power spectrum of windowed frames: the STFT stage."""
        spectrum = self._rfft(frames * self.window, axis=-1)
        power = np.square(spectrum.real)
        power += np.square(spectrum.imag)
        return power

    def mel(self, power: np.ndarray, out: np.ndarray) -> np.ndarray:
        """(frames, n_mels) mel power into ``out``: each block of bands over the bins it uses."""
        for bands, lo, weights in self.blocks:
            np.matmul(power[:, lo : lo + weights.shape[0]], weights, out=out[:, bands])
        return out

    def to_db(self, mel: np.ndarray) -> np.ndarray:
        """dB in place, clipped at the clip's ``max - top_db``; returned as (n_mels, frames)."""
        np.maximum(mel, AMIN, out=mel)
        np.log10(mel, out=mel)
        mel *= 10.0
        np.maximum(mel, mel.max() - self.top_db, out=mel)  # a NaN top_db gives NaN: refused later
        return mel.T

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        frames = self.frames(wave)
        mel = np.empty((len(frames), self.n_mels), dtype=np.float32)
        for start in range(0, len(frames), FRAME_CHUNK):
            chunk = slice(start, start + FRAME_CHUNK)
            self.mel(self.power(frames[chunk]), out=mel[chunk])
        return self.to_db(mel)


def _band_block(basis: np.ndarray, first: int, stop: int) -> tuple[slice, int, np.ndarray]:
    """Bands ``first:stop``, the first FFT bin any of them uses, and their (bins, bands) weights."""
    rows = basis[first:stop]
    used = np.flatnonzero(rows.any(axis=0))
    lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
    return slice(first, first + len(rows)), lo, np.ascontiguousarray(rows[:, lo:hi].T)


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
