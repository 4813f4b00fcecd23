"""Reading audio for the features (docs/method.md section 2), and finding audio files.

Samples come out as librosa reads them: mono float32 at the feature rate, from
the channel the config names (``feat.channel``: the mean of all channels, or
one of them, as DCASE 2026's near microphone); a file recorded at another
rate is resampled with soxr (no torch import).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from aegan.config.schema import MIX, Channel
from aegan.dcase.clips import AUDIO_SUFFIXES
from aegan.errors import AeganWarning, AudioError, DataError, why_not_a_file
from aegan.features.opening import open_failure, unreadable, wav_data_shortfall
from aegan.files import is_utf8_name, printable


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, converted to the feature sample rate."""

    path: Path
    sample_rate: int
    channels: int
    samples: int  # at the file's own rate
    target_samples: int  # after resampling to the feature rate

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate if self.sample_rate else 0.0


def resampled_length(samples: int, orig_rate: int, new_rate: int) -> int:
    """Length ``resample`` returns: samples * new / orig rounded, halves up (soxr's rule)."""
    if orig_rate == new_rate:
        return samples
    gcd = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // gcd, new_rate // gcd
    return (2 * samples * new + orig) // (2 * orig)


def probe(path: Path | str, sample_rate: int) -> AudioInfo:
    """Read a file's header only; raise AudioError naming the file if it is not audio."""
    path = Path(path)
    if not is_utf8_name(path):
        raise AudioError(
            f"Cannot read {printable(path)}: its name is not valid UTF-8, and the audio library "
            "can only open UTF-8 names.",
            "Rename the file (e.g. with your file manager) and run again.",
        )
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise open_failure(path, exc) from None
    if info.samplerate <= 0:
        raise unreadable(path, f"its header gives a sample rate of {info.samplerate} Hz")
    if info.frames <= 0:
        raise unreadable(path, "it holds no samples")
    shortfall = wav_data_shortfall(path) if info.format == "WAV" else None
    if shortfall:
        raise unreadable(
            path, f"it is truncated ({shortfall[1]} of {shortfall[0]} data bytes present)"
        )
    return AudioInfo(
        path=path,
        sample_rate=info.samplerate,
        channels=info.channels,
        samples=info.frames,
        target_samples=resampled_length(info.frames, info.samplerate, sample_rate),
    )


def require_channel(channels: int, channel: Channel, what: str) -> None:
    """Refuse a recording that lacks the channel a model reads (``feat.channel``)."""
    if channel != MIX and int(channel) >= channels:
        held = "1 channel" if channels == 1 else f"{channels} channels"
        raise AudioError(
            f"{what} has {held}, but the model reads channel {channel} (feat.channel).",
            f"Give a recording with channel {channel}, or use a model whose feat.channel is "
            f"{MIX} or below {channels}.",
        )


def pick_channel(data: np.ndarray, channel: Channel, what: str) -> np.ndarray:
    """One channel of (samples, channels) data, or for ``MIX`` the mean of all of them."""
    require_channel(data.shape[1], channel, what)
    if channel == MIX:
        return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return data[:, int(channel)]


def read_audio(
    path: Path | str,
    sample_rate: int,
    info: AudioInfo | None = None,
    channel: Channel = MIX,
) -> np.ndarray:
    """Mono float32 samples at ``sample_rate`` from ``channel``, resampled if needed.

    Samples are scaled as soundfile (and librosa) scale them: int16 / 32768.
    A file whose data ends before its header says is refused as truncated.
    ``info`` is the file's ``probe``, when the caller has it already.
    """
    path = Path(path)
    info = info or probe(path, sample_rate)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise open_failure(path, exc) from None
    if data.shape[0] < info.samples:
        raise unreadable(path, f"it is truncated ({data.shape[0]} of {info.samples} samples read)")
    mono = pick_channel(data, channel, str(path))
    _require_usable(path, mono)  # the channel read: the other may be silent or broken
    return np.ascontiguousarray(to_model_rate(mono, rate, sample_rate, str(path)), np.float32)


class BandLimitedWarning(AeganWarning):
    """A recording made below the model's rate: its top frequencies are missing."""


class LoudSamplesWarning(AeganWarning):
    """Float samples beyond full scale (within ``MAX_PEAK``): scores run high."""


def to_model_rate(mono: np.ndarray, rate: int, sample_rate: int, what: str) -> np.ndarray:
    """Mono samples resampled from ``rate`` to the model's ``sample_rate``; a recording made
    below it is scored with a warning, since it lacks the model's top frequencies."""
    if rate < sample_rate:
        warnings.warn(
            BandLimitedWarning(
                f"{what} was recorded at {rate} Hz, below the model's {sample_rate} Hz: it has "
                f"nothing above {rate // 2} Hz, so its score runs high and its decision is "
                "less reliable."
            ),
            stacklevel=2,
        )
    warn_if_loud(mono, what)
    return mono if rate == sample_rate else resample(mono, rate, sample_rate)


def warn_if_loud(mono: np.ndarray, what: str) -> None:
    """Warn about float samples beyond full scale that ``unusable_reason`` lets through."""
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    if 1.0 + PEAK_TOLERANCE < peak <= MAX_PEAK:
        warnings.warn(
            LoudSamplesWarning(
                f"{what} has samples beyond ±1 (peak {peak:.3g}): it is scored as it is, but a "
                "recording louder than full scale scores high."
            ),
            stacklevel=2,
        )


def resample(mono: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """Mono samples from ``rate`` to ``sample_rate`` with soxr at its very high quality.

    Its transition band is narrow: a 16 -> 48 -> 16 kHz round trip keeps the top
    mel bands within a fraction of a dB, where torchaudio's default filter lost
    several dB there, and scores moved with it (``benchmarks/resampling.py``;
    docs/method.md section 1).
    """
    return soxr.resample(np.ascontiguousarray(mono, np.float32), rate, sample_rate, quality="VHQ")


NON_FINITE = "its samples include NaN or infinity"

MAX_PEAK = 4.0
"""Float samples beyond this (12 dB over full scale) are not audio scaled to ±1: refused."""
PEAK_TOLERANCE = 1e-3
"""A float recording may overshoot ±1 this little (rounding, resampling) without a warning."""


def unusable_reason(samples: np.ndarray) -> str | None:
    """Why no score means anything for these samples (empty, non-finite, silent, far beyond
    ±1), or None. One sample is left to the length check: it is too short, not silent."""
    if samples.size == 0:
        return "it holds no samples"
    if not np.isfinite(samples).all():
        return NON_FINITE
    if samples.size > 1 and bool((samples == samples.flat[0]).all()):
        return f"it is digital silence (every sample is {float(samples.flat[0]):g})"
    peak = float(np.abs(samples).max())
    if peak > MAX_PEAK:
        return (
            f"its samples exceed ±1 (peak {peak:.3g}), so they are not audio scaled to "
            "full scale (float samples lie within ±1)"
        )
    return None


def _require_usable(path: Path, data: np.ndarray) -> None:
    """Refuse samples no score means anything for: NaN or infinity, or digital silence.

    An empty file is left to the length check, which says how long a file must be.
    """
    reason = unusable_reason(data)
    if reason is not None:
        raise AudioError(f"{path} is unusable: {reason}.", unusable_hint(reason))


def unusable_hint(reason: str) -> str:
    """What to do about samples ``unusable_reason`` refused."""
    if reason.startswith("its samples exceed"):
        return (
            "Scale the samples to ±1 (int16 values stored as float: divide by 32768), "
            "or write the file as PCM."
        )
    return "Check the recording or the program that wrote it; such a file cannot be scored."


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES


def find_audio_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Files named by paths, folders (searched recursively) and glob patterns, in order.

    Duplicates are dropped. A path or pattern that matches nothing is an error
    naming it, so a typo is not silently scored as an empty set.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        text = str(item)
        path = Path(text).expanduser()
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if _is_audio(p))
        elif path.is_file():
            matches = [path]
        elif any(ch in text for ch in "*?["):
            matches = sorted(p for p in _glob(path) if _is_audio(p))
        else:
            raise DataError(f"{text} {why_not_a_file(path)}.", "Check the path.")
        if not matches:
            raise DataError(
                f"No .wav or .flac files in {text}.",
                "Point at audio files, a folder of them or a glob.",
            )
        found.update(dict.fromkeys(matches))
    return list(found)


def _glob(pattern: Path) -> list[Path]:
    anchor = Path(pattern.anchor) if pattern.is_absolute() else Path()
    relative = str(pattern.relative_to(anchor)) if pattern.is_absolute() else str(pattern)
    return list(anchor.glob(relative))
