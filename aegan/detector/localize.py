"""Anomaly localisation: where in time and frequency a clip departs from normal (docs/method.md section 8).

The original's method: reconstruct every segment of a clip, rebuild a
full-length reconstruction in which each frame column is the mean of that
column over all the segments covering it, map it to [0, 1] with (v+1)/2, and
compare it with the mean training spectrogram: the map is
``|reconstruction - mean|``. We also give the direct residual
``|input - reconstruction|``, which points at what the model could not
reproduce in this very clip.

Coverage: segments start every ``segment_hop`` frames. When the last one does
not end on the clip's last frame ((frames - segment_frames) % hop != 0), one
more segment aligned to the clip's end is reconstructed, so every frame is
covered and the maps have no holes. With hop 1 (the published setting) this
never happens and the result is exactly the original's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aegan import paths
from aegan.detector.detector import Detector
from aegan.detector.waveforms import require_usable
from aegan.features.audio import read_audio
from aegan.features.logmel import frame_times, mel_centre_frequencies
from aegan.features.segments import covering_starts, require_one_segment
from aegan.features.stream import read_part
from aegan.model.precision import network_precision
from aegan.model.scores import eval_mode

ARRAY_NAMES = (
    "input",
    "reconstruction",
    "mean_training",
    "anomaly_map",
    "residual",
    "times",
    "frequencies",
    "sample_rate",
)
"""The arrays of a ``.npz`` file written by ``save_arrays`` (``sample_rate`` is 0-d)."""


@dataclass(frozen=True)
class Localization:
    """One clip's spectrograms and anomaly maps, all (n_mels, frames), scaled as the model sees them.

    ``input``, ``reconstruction`` and ``mean_training`` are the scaled
    spectrograms mapped to [0, 1] with (v+1)/2 (a test clip louder or quieter
    than any training clip falls outside [0, 1]); ``anomaly_map`` is the
    original's ``|reconstruction - mean_training|``; ``residual`` is
    ``|input - reconstruction|``. ``times`` are frame centres in seconds,
    ``frequencies`` the mel bands' centre frequencies in Hz, at ``sample_rate``.
    """

    input: np.ndarray
    reconstruction: np.ndarray
    mean_training: np.ndarray
    anomaly_map: np.ndarray
    residual: np.ndarray
    times: np.ndarray
    frequencies: np.ndarray
    sample_rate: int

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in ARRAY_NAMES}


# ---------------------------------------------------------------- axes


# ---------------------------------------------------------------- reconstruction


def add_segments(
    total: torch.Tensor, counts: torch.Tensor, segments: torch.Tensor, starts: torch.Tensor
) -> None:
    """Add (S, n_mels, frames) segments into the columns they cover, and count the coverage."""
    frames = segments.shape[2]
    columns = (starts[:, None] + torch.arange(frames, device=starts.device)).reshape(-1)
    flat = segments.permute(1, 0, 2).reshape(segments.shape[1], -1)
    total.index_add_(1, columns, flat.to(total.dtype))
    counts.index_add_(0, columns, torch.ones_like(columns, dtype=counts.dtype))


@torch.no_grad()
def reconstruct(
    detector: Detector, spectrogram: np.ndarray, *, batch_size: int = 256
) -> np.ndarray:
    """The full-length reconstruction of a raw dB spectrogram, scaled to [-1, 1].

    Segments are cut, reconstructed and added into their columns one batch at
    a time on the model's device, so memory stays bounded for long recordings;
    each column is then divided by the number of segments covering it.
    """
    feat = detector.cfg.feat
    device = detector.device
    n_frames = spectrogram.shape[1]
    scaled = detector.scaler(torch.from_numpy(np.asarray(spectrogram, np.float32)).to(device))
    starts = torch.from_numpy(covering_starts(n_frames, feat.segment_frames, feat.segment_hop))
    starts = starts.to(device)
    offsets = torch.arange(feat.segment_frames, device=device)
    total = torch.zeros(scaled.shape[0], n_frames, dtype=torch.float64, device=device)
    counts = torch.zeros(n_frames, dtype=torch.float64, device=device)
    with eval_mode(detector.generator), network_precision(detector.precision, device):
        for begin in range(0, len(starts), batch_size):
            batch_starts = starts[begin : begin + batch_size]
            segments = scaled[:, batch_starts[:, None] + offsets].permute(1, 0, 2)
            reconstructed = detector.generator(segments[:, None])[:, 0].float()
            add_segments(total, counts, reconstructed, batch_starts)
    return (total / counts).float().cpu().numpy()


def training_reference(mean_spectrogram: np.ndarray, n_frames: int) -> np.ndarray:
    """The mean training spectrogram, as wide as the clip.

    Used as stored when the clip has the training clips' length (the
    original's case); otherwise the stored mean's per-mel-bin average over
    time, repeated along the clip, since a frame-by-frame comparison between
    clips of different lengths has no meaning.
    """
    if mean_spectrogram.shape[1] == n_frames:
        return mean_spectrogram
    profile = mean_spectrogram.mean(axis=1, keepdims=True)
    return np.repeat(profile, n_frames, axis=1).astype(np.float32)


def to_unit(values: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 1], as the original draws its maps."""
    return ((values + 1.0) / 2.0).astype(np.float32)


def localize_spectrogram(
    detector: Detector,
    spectrogram: np.ndarray,
    *,
    batch_size: int = 256,
    source: str = "The spectrogram",
    offset: float = 0.0,
) -> Localization:
    """The maps of one clip given as a raw dB log-mel spectrogram (n_mels, frames).

    ``source`` names the clip in the error raised when it is too short;
    ``offset`` (s) is where the clip starts in its recording, for the time axis.
    """
    feat = detector.cfg.feat
    require_one_segment(spectrogram.shape[1], feat, source)
    scaled_input = to_unit(detector.scaler(np.asarray(spectrogram, np.float32)))
    reconstruction = to_unit(reconstruct(detector, spectrogram, batch_size=batch_size))
    mean = training_reference(detector.mean_spectrogram, spectrogram.shape[1])
    return Localization(
        input=scaled_input,
        reconstruction=reconstruction,
        mean_training=mean,
        anomaly_map=np.abs(reconstruction - mean),
        residual=np.abs(scaled_input - reconstruction),
        times=offset + frame_times(spectrogram.shape[1], feat),
        frequencies=mel_centre_frequencies(feat),
        sample_rate=feat.sample_rate,
    )


def localize_file(
    detector: Detector,
    path: Path | str,
    *,
    start: float | None = None,
    end: float | None = None,
    batch_size: int = 256,
) -> Localization:
    """The maps of an audio file (any rate; the model's ``feat.channel``); AudioError if unusable.

    ``start``/``end`` (s) map only that stretch of a long recording, read and
    turned into a spectrogram as the same stretch cut out as a clip would be
    (docs/method.md section 13); the time axis stays the recording's.
    """
    rate, channel = detector.cfg.feat.sample_rate, detector.cfg.feat.channel
    if start is None and end is None:
        wave, source = read_audio(path, rate, channel=channel), str(path)
    else:
        wave = read_part(Path(path), rate, start, end, channel)
        source = f"{path} from {start or 0:g} s" + ("" if end is None else f" to {end:g} s")
    require_usable(wave, source)
    spectrogram = detector.log_mel([wave])[0]
    return localize_spectrogram(
        detector, spectrogram, batch_size=batch_size, source=source, offset=float(start or 0.0)
    )


# ---------------------------------------------------------------- files


def save_arrays(result: Localization, path: Path) -> Path:
    """All arrays in one compressed ``.npz`` (keys: ``ARRAY_NAMES``), written atomically."""
    with paths.atomic_path(Path(path)) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **result.arrays())
    return Path(path)
