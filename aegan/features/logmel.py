"""Log-mel spectrograms in dB, as librosa computes them, batched in torch (docs/method.md section 2).

``LogMel`` reproduces librosa's ``melspectrogram`` followed by
``power_to_db(ref=1.0)`` (the original research code's pipeline): Hann window,
centred frames with zero padding, power 2, Slaney mel scale and area
normalisation, then dB clipped per clip at ``max - top_db``. The axis helpers
give each frame's time and each mel band's frequency, for maps and plots.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF

from aegan.config.schema import FeatureConfig

AMIN = 1e-10  # librosa's floor before taking the log


class LogMel(torch.nn.Module):
    """Batched log-mel spectrogram in dB, clipped per clip at ``max - top_db``.

    Input (B, T) float32 waveforms of equal length; output (B, n_mels, frames).
    The per-clip clip matters: clipping against the maximum of a whole batch
    would make a clip's features depend on its neighbours.
    """

    def __init__(self, cfg: FeatureConfig) -> None:
        super().__init__()
        self.n_fft = cfg.n_fft
        self.hop_length = cfg.hop_length
        self.top_db = cfg.top_db
        fbank = AF.melscale_fbanks(
            n_freqs=cfg.n_fft // 2 + 1,
            f_min=0.0,
            f_max=cfg.sample_rate / 2.0,
            n_mels=cfg.n_mels,
            sample_rate=cfg.sample_rate,
            norm="slaney",
            mel_scale="slaney",
        )
        self.register_buffer("mel_basis", fbank.T.contiguous().float(), persistent=False)
        window = torch.hann_window(cfg.n_fft, periodic=True)
        self.register_buffer("window", window, persistent=False)

    def power_mel(self, waves: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            waves,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        return torch.matmul(self.mel_basis, power)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        db = 10.0 * torch.log10(torch.clamp(self.power_mel(waves), min=AMIN))
        floor = db.amax(dim=(-2, -1), keepdim=True) - self.top_db
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
