"""What the Python API accepts as a recording, turned into one mono float32 waveform.

An item is a path (read as ``features.audio`` reads files) or a NumPy array:
float samples as they are, integer samples scaled to [-1, 1] as a WAV reader
scales them (int16 / 32768, uint8 centred on 128), mono ``(N,)`` or one
multi-channel recording ``(channels, N)``, of which the model hears what a file
would give it (``feat.channel``: the mix, or one channel). Anything else is a
clear ``DataError`` naming the item, never a silent reinterpretation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aegan.config.schema import MIX, Channel
from aegan.errors import DataError, UsageError
from aegan.features.audio import pick_channel, read_audio, resample, unusable_reason

Item = str | Path | np.ndarray
"""One recording: a file path, or samples."""

MAX_CHANNELS = 64
"""More rows than this in a 2-D array is taken as a (N, channels) mistake, not as channels."""


def is_single(inputs: Item | Sequence[Item]) -> bool:
    """True for one recording (a path, or an array of one or two dimensions), False for a list."""
    if isinstance(inputs, (str, Path)):
        return True
    return isinstance(inputs, np.ndarray) and inputs.ndim in (1, 2)


def describe(item: Item, index: int | None = None) -> str:
    """How an error names an item: its path, or which array it was."""
    if isinstance(item, (str, Path)):
        return str(item)
    return "The waveform" if index is None else f"Waveform {index}"


def check_sample_rate(sample_rate: object) -> int | None:
    """The sample rate of arrays: None (the model's) or a positive whole number of Hz."""
    if sample_rate is None:
        return None
    whole = isinstance(sample_rate, (int, np.integer)) and not isinstance(sample_rate, bool)
    if isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer():
        whole, sample_rate = True, int(sample_rate)
    if not whole or int(sample_rate) <= 0:
        raise UsageError(
            f"sample_rate must be a positive whole number of Hz, not {sample_rate!r}.",
            "Pass the rate the samples were recorded at, e.g. sample_rate=16000.",
        )
    return int(sample_rate)


def to_float(samples: np.ndarray, what: str) -> np.ndarray:
    """float32 samples; integer samples scaled to [-1, 1) by their type's full scale."""
    kind = samples.dtype.kind
    if kind == "f":
        return samples.astype(np.float32, copy=False)
    if kind in "iu":
        bits = samples.dtype.itemsize * 8
        half = float(2 ** (bits - 1))
        offset = half if kind == "u" else 0.0
        return ((samples.astype(np.float64) - offset) / half).astype(np.float32)
    raise DataError(
        f"{what} has samples of type {samples.dtype}; use float or integer samples.",
        "Convert it, e.g. array.astype(numpy.float32).",
    )


def to_mono(samples: np.ndarray, what: str, channel: Channel = MIX) -> np.ndarray:
    """(N,) as is; of (channels, N) the channel a file gives (``pick_channel``)."""
    if samples.ndim == 1:
        return pick_channel(samples[:, None], channel, what)
    if samples.ndim == 2 and samples.shape[0] <= min(MAX_CHANNELS, samples.shape[1]):
        if channel != MIX:
            return pick_channel(samples.T, channel, what)
        return samples.mean(axis=0, dtype=np.float64).astype(np.float32)
    raise DataError(
        f"{what} has shape {samples.shape}; a recording is (N,) or (channels, N).",
        "Pass channels first (array.T for an (N, channels) array), or a list of recordings.",
    )


def unusable(what: str, reason: str) -> DataError:
    return DataError(
        f"{what} is unusable: {reason}.", "Such a recording cannot be scored; check its source."
    )


def require_usable(samples: np.ndarray, what: str) -> None:
    """Refuse samples no score means anything for: empty, NaN or infinity, or digital silence."""
    reason = unusable_reason(samples)
    if reason is not None:
        raise unusable(what, reason)


def array_waveform(samples: np.ndarray, what: str, channel: Channel = MIX) -> np.ndarray:
    """A mono float32 waveform from an array in any of the accepted forms, checked."""
    samples = np.asarray(samples)
    mono = to_mono(to_float(samples, what), what, channel)
    require_usable(mono, what)
    return np.ascontiguousarray(mono, dtype=np.float32)


def waveform(
    item: Item, sample_rate: int | None, model_rate: int, what: str, channel: Channel = MIX
) -> np.ndarray:
    """The float32 waveform of an item's ``channel`` at ``model_rate``; arrays at ``sample_rate``."""
    if isinstance(item, (str, Path)):
        return read_audio(item, model_rate, channel=channel)
    if not isinstance(item, np.ndarray):
        raise DataError(
            f"{what} is a {type(item).__name__}; a recording is a file path or a NumPy array.",
            "Pass numpy.asarray(samples), or a list of paths or arrays.",
        )
    wave = array_waveform(item, what, channel)
    if sample_rate is not None and sample_rate != model_rate:
        wave = resample(wave, sample_rate, model_rate)
    return wave
