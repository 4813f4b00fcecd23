"""Training data on the device, and which segments each batch of each epoch takes.

The scaled training features sit on the training device as one
(frames, n_mels) tensor; a batch is gathered from it by index (no DataLoader,
no Python per segment). Each epoch's shuffle and gradient-penalty draws come
from seeds derived from (seed, epoch) alone, so a resumed run, and every rank
of a distributed one, draws exactly what one uninterrupted process would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from aegan.errors import DataError
from aegan.features.cache import FeatureSet
from aegan.features.segments import Scaler
from aegan.training.distributed import Rank

UPLOAD_FRAMES = 1 << 16
"""Frames per host-to-device copy when uploading features: bounds the host memory used."""


class DeviceFeatures:
    """Scaled features of a list of clips, on the device, time-major: (frames, n_mels).

    ``starts`` holds the first frame of every segment; a segment never
    crosses from one clip into the next.
    """

    def __init__(self, data: torch.Tensor, offsets: np.ndarray, frames: int, hop: int) -> None:
        self.data = data
        self.offsets = offsets
        self.frames = frames
        self.hop = hop
        starts = [
            offsets[i] + np.arange(0, offsets[i + 1] - offsets[i] - frames + 1, hop)
            for i in range(len(offsets) - 1)
        ]
        self.starts = torch.from_numpy(np.concatenate(starts).astype(np.int64)).to(data.device)
        self._window = torch.arange(frames, device=data.device)

    @classmethod
    def upload(
        cls, sets: Sequence[FeatureSet], scaler: Scaler, device: torch.device, frames: int, hop: int
    ) -> DeviceFeatures:
        """Scale and copy the sets' features to ``device`` in chunks, laid end to end."""
        total = sum(int(fs.offsets[-1]) for fs in sets)
        n_mels = sets[0].data.shape[0]
        data = torch.empty((total, n_mels), dtype=torch.float32, device=device)
        offsets, base = [np.zeros(1, np.int64)], 0
        for fs in sets:
            length = int(fs.offsets[-1])
            for lo in range(0, length, UPLOAD_FRAMES):
                hi = min(lo + UPLOAD_FRAMES, length)
                chunk = torch.from_numpy(np.ascontiguousarray(fs.data[:, lo:hi])).to(device)
                data[base + lo : base + hi] = scaler(chunk).T
            offsets.append(fs.offsets[1:] + base)
            base += length
        return cls(data, np.concatenate(offsets), frames, hop)

    @property
    def n_segments(self) -> int:
        return len(self.starts)

    @property
    def n_clips(self) -> int:
        return len(self.offsets) - 1

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Segments ``indices`` (into ``starts``) as a (B, 1, n_mels, frames) batch."""
        frame_index = self.starts[indices, None] + self._window  # (B, frames)
        return self.data[frame_index].transpose(1, 2).contiguous().unsqueeze(1)

    def clip_segments(self) -> list[torch.Tensor]:
        """Each clip's segments (S, n_mels, frames) as views, for scoring."""
        return [
            self.data[self.offsets[i] : self.offsets[i + 1]].unfold(0, self.frames, self.hop)
            for i in range(self.n_clips)
        ]


# ---------------------------------------------------------------- epoch plan


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A seed for one random stream (shuffle, alpha) of one epoch.

    Deriving each epoch's randomness from (seed, epoch) alone makes a resumed
    run draw exactly what an uninterrupted one would, on every rank.
    """
    return int(np.random.SeedSequence(seed, spawn_key=(epoch, stream)).generate_state(1)[0])


SHUFFLE_STREAM, ALPHA_STREAM = 0, 1


def batches_per_epoch(n_segments: int, batch_size: int) -> int:
    """Full batches only: the last partial batch is dropped, as in the original."""
    return n_segments // batch_size


def rank_share(batch: int, batch_size: int, rank: Rank) -> slice:
    """The positions in an epoch's permutation that ``rank`` trains on in batch ``batch``.

    Each global batch is split into equal consecutive shares, rank 0 first.
    """
    share = batch_size // rank.world
    start = batch * batch_size + rank.rank * share
    return slice(start, start + share)


def check_batches(n_segments: int, batch_size: int, world: int) -> None:
    """Refuse a batch size the data or the number of processes cannot fill."""
    if batch_size % world:
        raise DataError(
            f"The batch size {batch_size} does not split evenly over {world} processes.",
            f"Use a multiple of {world}, e.g. --set train.batch_size={batch_size - batch_size % world or world}.",
        )
    if n_segments < batch_size:
        per_process = max(n_segments // world, 1)
        fitting = (1 << (per_process.bit_length() - 1)) * world  # a power of two per process
        raise DataError(
            f"The training data has {n_segments} segments, fewer than one batch of {batch_size}.",
            f"Add training clips or use a smaller batch, e.g. --set train.batch_size={fitting}.",
        )
