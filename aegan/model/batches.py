"""The segments of many clips, batched across clip boundaries for the networks.

Scoring feeds consecutive segments of all clips, ``batch_size`` at a time,
whatever clip they belong to, so that short clips do not waste batches; each
batch carries the clip of every segment so results can be pooled per clip.
Only one batch is in memory at a time (clips may be memory-mapped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from aegan.errors import DataError, UsageError

SegmentArray = np.ndarray | torch.Tensor
"""One clip's segments, (S, H, W) or (S, 1, H, W); numpy arrays may be memory-mapped."""


Transform = Callable[[torch.Tensor], torch.Tensor]
"""Applied to each batch on the device before the networks, e.g. feature scaling."""


class Batch(NamedTuple):
    segments: torch.Tensor  # (B, 1, H, W) on the device
    clip_ids: torch.Tensor  # (B,) int64 on the CPU: the clip of each segment
    clips_done: int  # clips whose last segment is in this or an earlier batch


def segment_counts(clips: Sequence[SegmentArray], isize: int) -> np.ndarray:
    """Each clip's number of segments, after checking its shape fits the model."""
    counts = np.empty(len(clips), dtype=np.int64)
    for i, clip in enumerate(clips):
        shape = tuple(clip.shape)
        fits = shape[-2:] == (isize, isize) and (
            len(shape) == 3 or (len(shape) == 4 and shape[1] == 1)
        )
        if not fits:
            raise DataError(
                f"Clip {i} has segments of shape {shape}; the model needs "
                f"(segments, {isize}, {isize}) or (segments, 1, {isize}, {isize}).",
                "Compute the features with the settings the model was trained with.",
            )
        if shape[0] == 0:
            raise DataError(
                f"Clip {i} has no segments: it is shorter than one {isize}-frame model input.",
                "Score only clips at least as long as the model input.",
            )
        counts[i] = shape[0]
    return counts


def concatenate(pieces: list[SegmentArray]) -> torch.Tensor:
    """One fresh tensor from slices of several clips (numpy memmaps are read only here)."""
    if all(isinstance(piece, torch.Tensor) for piece in pieces):
        return torch.cat(pieces)
    return torch.from_numpy(np.concatenate([np.asarray(piece) for piece in pieces]))


def batches(
    clips: Sequence[SegmentArray],
    counts: np.ndarray,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    transform: Transform | None = None,
) -> Iterator[Batch]:
    """Consecutive segments of all clips, batch_size at a time, crossing clip boundaries."""
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for start in range(0, int(offsets[-1]), batch_size):
        end = min(start + batch_size, int(offsets[-1]))
        first = int(np.searchsorted(offsets, start, side="right")) - 1
        stop = int(np.searchsorted(offsets, end, side="left"))
        clip_range = range(first, stop)
        lows = [max(start - offsets[i], 0) for i in clip_range]
        highs = [min(end, offsets[i + 1]) - offsets[i] for i in clip_range]
        pieces = [clips[i][lo:hi] for i, lo, hi in zip(clip_range, lows, highs, strict=True)]
        segments = concatenate(pieces)
        segments = segments.reshape(-1, 1, *segments.shape[-2:]).to(device=device, dtype=dtype)
        if transform is not None:
            segments = transform(segments)
        ids = np.repeat(np.arange(first, stop), np.subtract(highs, lows))
        done = int(np.searchsorted(offsets[1:], end, side="right"))
        yield Batch(segments, torch.from_numpy(ids), done)


def place(device: str | torch.device | None, *modules: nn.Module) -> torch.device:
    """The device to score on: the nets' own, or the one given (the nets move there)."""
    if device is None:
        return next(modules[0].parameters()).device
    device = torch.device(device)
    for module in modules:
        module.to(device)
    return device


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise UsageError(f"The batch size must be positive; got {batch_size}.")
