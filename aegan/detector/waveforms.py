"""What the Python API accepts as a recording, turned into one mono float32 waveform.

An item is a path (read as ``features.audio`` reads files) or a NumPy array
(a torch tensor is taken as its array): float samples as they are, integer
samples scaled to [-1, 1] as a WAV reader scales them (int16 / 32768, uint8
centred on 128), mono ``(N,)`` or one multi-channel recording ``(channels, N)``,
of which the model hears what a file would give it (``feat.channel``: the mix,
or one channel). Anything else (bytes, an open file, a list of numbers) is one
short ``InputTypeError`` saying what is accepted, never a silent
reinterpretation of every byte or number as a recording.
"""

from __future__ import annotations

import numbers
import warnings
from pathlib import Path

import numpy as np

from aegan.config.schema import MIX, Channel
from aegan.errors import AeganWarning, DataError, UsageError
from aegan.features.audio import (
    pick_channel,
    probe,
    read_audio,
    to_model_rate,
    unusable_hint,
    unusable_reason,
)

Item = str | Path | np.ndarray
"""One recording: a file path, or samples."""

MAX_CHANNELS = 64
"""More rows than this in a 2-D array is taken as a (N, channels) mistake, not as channels."""


ACCEPTED = "a file path, a NumPy array of samples (or a torch tensor), or a list of these"
DECODE_HINT = (
    "Decode audio in memory first: samples, rate = soundfile.read(io.BytesIO(data)); "
    "then score(samples, sample_rate=rate)."
)


class InputTypeError(DataError, TypeError):
    """An object that is neither a recording nor a list of recordings."""


class SampleRateIgnoredWarning(AeganWarning):
    """``sample_rate`` was given with a file, which is read at its own rate."""


def _tensor_array(value: object) -> object:
    """A torch tensor as its NumPy array (from any device); anything else as it is."""
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        return value.detach().cpu().numpy()  # type: ignore[attr-defined]
    return value


def kind_of(value: object) -> str:
    """A short description of what was given instead of a recording ("a dict", "12 bytes")."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"{len(value)} bytes"
    kind = type(value)
    return f"a {kind.__qualname__ if kind.__module__ == 'builtins' else kind.__module__ + '.' + kind.__qualname__}"


def _hint(value: object) -> str | None:
    """How to turn encoded audio (bytes, an open file) into samples; None for other things."""
    encoded = isinstance(value, (bytes, bytearray, memoryview)) or hasattr(value, "read")
    return DECODE_HINT if encoded else None


def recordings(inputs: object) -> tuple[bool, list[Item]]:
    """(one recording?, the items): a path, an array (or tensor) of one or two dimensions, or a
    list of those. Bytes, open files, numbers and lists of numbers are refused before any work."""
    inputs = _tensor_array(inputs)
    if isinstance(inputs, (str, Path)) or (
        isinstance(inputs, np.ndarray) and inputs.ndim in (1, 2)
    ):
        return True, [inputs]  # type: ignore[list-item]
    if isinstance(inputs, np.ndarray):
        return False, list(inputs)
    if _hint(inputs) is not None:
        raise InputTypeError(
            f"Got {kind_of(inputs)}, not a recording: a recording is {ACCEPTED}.", DECODE_HINT
        )
    if not isinstance(inputs, (list, tuple)):
        raise InputTypeError(f"Got {kind_of(inputs)}; a recording is {ACCEPTED}.")
    items = [_tensor_array(item) for item in inputs]
    if items and all(isinstance(item, numbers.Number) for item in items):
        raise InputTypeError(
            f"Got a list of {len(items)} numbers; a list holds recordings, each {ACCEPTED}.",
            "For the samples of one recording pass numpy.asarray(samples, numpy.float32).",
        )
    return False, items  # type: ignore[return-value]


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
    require_recording_shape(samples, what)
    if samples.ndim == 1:
        return pick_channel(samples[:, None], channel, what)
    if channel != MIX:
        return pick_channel(samples.T, channel, what)
    return samples.mean(axis=0, dtype=np.float64).astype(np.float32)


def require_recording_shape(samples: np.ndarray, what: str) -> None:
    """Refuse, before any copy, an array that is not (N,) or (channels, N)."""
    if samples.ndim == 1 or (
        samples.ndim == 2 and samples.shape[0] <= min(MAX_CHANNELS, samples.shape[1])
    ):
        return
    raise DataError(
        f"{what} has shape {samples.shape}; a recording is (N,) or (channels, N).",
        "Pass channels first (array.T for an (N, channels) array), or a list of recordings.",
    )


def unusable(what: str, reason: str) -> DataError:
    return DataError(f"{what} is unusable: {reason}.", unusable_hint(reason))


def require_usable(samples: np.ndarray, what: str) -> None:
    """Refuse samples no score means anything for: empty, NaN or infinity, or digital silence."""
    reason = unusable_reason(samples)
    if reason is not None:
        raise unusable(what, reason)


def array_waveform(samples: np.ndarray, what: str, channel: Channel = MIX) -> np.ndarray:
    """A mono float32 waveform from an array in any of the accepted forms, checked."""
    samples = np.asarray(samples)
    require_recording_shape(samples, what)
    mono = to_mono(to_float(samples, what), what, channel)
    require_usable(mono, what)
    return np.ascontiguousarray(mono, dtype=np.float32)


def waveform(
    item: Item, sample_rate: int | None, model_rate: int, what: str, channel: Channel = MIX
) -> np.ndarray:
    """The float32 waveform of an item's ``channel`` at ``model_rate``; arrays at ``sample_rate``.

    A file is read at its own rate: a different ``sample_rate`` given with it is
    ignored, with a warning.
    """
    if isinstance(item, (str, Path)):
        info = probe(item, model_rate)
        if sample_rate is not None and sample_rate != info.sample_rate:
            warnings.warn(
                SampleRateIgnoredWarning(
                    f"sample_rate={sample_rate} applies to arrays only: {item} is read at its "
                    f"own {info.sample_rate} Hz."
                ),
                stacklevel=3,
            )
        return read_audio(item, model_rate, info, channel=channel)
    item = _tensor_array(item)  # type: ignore[assignment]
    if not isinstance(item, np.ndarray):
        raise InputTypeError(f"{what} is {kind_of(item)}; a recording is {ACCEPTED}.", _hint(item))
    wave = array_waveform(item, what, channel)
    return to_model_rate(wave, sample_rate or model_rate, model_rate, what)
