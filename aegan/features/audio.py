"""Reading audio for the features (docs/method.md section 2), and finding audio files.

Samples come out as librosa reads them: mono float32 at the feature rate, from
the channel the config names (``feat.channel``: the mean of all channels, or
one of them, as DCASE 2026's near microphone).
Torch is imported only to resample a file recorded at another rate, so that
preparing a DCASE data set (all 16 kHz) never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.config.schema import MIX, Channel
from aegan.dcase.clips import AUDIO_SUFFIXES
from aegan.errors import AudioError, DataError


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


def unreadable(path: Path | str, reason: str) -> AudioError:
    """The one message for a file that cannot be read as audio, with what to do."""
    return AudioError(
        f"Cannot read {path} as audio: {reason.rstrip('.')}.",
        "Check that it is a WAV or FLAC file (re-download or re-export it), or remove it.",
    )


def resampled_length(samples: int, orig_rate: int, new_rate: int) -> int:
    """Length torchaudio's resampler returns: ceil(samples * new / orig)."""
    if orig_rate == new_rate:
        return samples
    gcd = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // gcd, new_rate // gcd
    return -(-samples * new // orig)


def wav_data_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) byte counts of a RIFF/WAVE data chunk that ends early, else None.

    libsndfile quietly reports the frames that are present, so a download cut
    short would pass as a shorter clip; the chunk header tells the truth.
    """
    with open(path, "rb") as fh:
        if fh.read(12)[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return None
            chunk_id, chunk_size = header[:4], int.from_bytes(header[4:], "little")
            if chunk_id == b"data":
                present = size - fh.tell()
                unknown = chunk_size in (0, 0xFFFFFFFF)  # streaming writers leave it open
                return None if unknown or chunk_size <= present else (chunk_size, present)
            fh.seek(chunk_size + (chunk_size & 1), 1)


def probe(path: Path | str, sample_rate: int) -> AudioInfo:
    """Read a file's header only; raise AudioError naming the file if it is not audio."""
    path = Path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise unreadable(path, str(exc).strip() or type(exc).__name__) from None
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
        raise unreadable(path, str(exc).strip() or type(exc).__name__) from None
    if data.shape[0] < info.samples:
        raise unreadable(path, f"it is truncated ({data.shape[0]} of {info.samples} samples read)")
    mono = pick_channel(data, channel, str(path))
    _require_usable(path, mono)  # the channel read: the other may be silent or broken
    if rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def resample(mono: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """Mono samples from ``rate`` to ``sample_rate`` with torchaudio's resampler."""
    # torch only here: a data set at the feature rate is read without importing it
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(mono)), rate, sample_rate).numpy()


NON_FINITE = "its samples include NaN or infinity"


def unusable_reason(samples: np.ndarray) -> str | None:
    """Why no score means anything for these samples (empty, non-finite, silent), or None."""
    if samples.size == 0:
        return "it holds no samples"
    if not np.isfinite(samples).all():
        return NON_FINITE
    if bool((samples == samples.flat[0]).all()):
        return f"it is digital silence (every sample is {float(samples.flat[0]):g})"
    return None


def _require_usable(path: Path, data: np.ndarray) -> None:
    """Refuse samples no score means anything for: NaN or infinity, or digital silence.

    An empty file is left to the length check, which says how long a file must be.
    """
    reason = unusable_reason(data)
    if reason is not None:
        raise AudioError(
            f"{path} is unusable: {reason}.",
            "Check the recording or the program that wrote it; such a file cannot be scored.",
        )


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
            raise DataError(f"{text} does not exist.", "Check the path.")
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
