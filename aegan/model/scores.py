"""The 19 anomaly scores of AEGAN-AD (SPEC section 5), batched across clips.

For a clip's segments X: z = Enc(X), r = Dec(z), z' = Enc(r). The 15 generator
scores compare r with X (space ``x``) or z' with z (space ``z``) per segment,
by summed absolute (``1``) or squared (``2``) difference, or by cosine
distance over channels (``cos``, z only), then pool the segments of the clip by
sum, min or max. The 4 discriminator scores compare the clip embedding (the
mean of the critic's segment embeddings) with the training clips' embeddings.
Higher always means more anomalous; a NaN score becomes float32 max.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from torch import nn

from aegan.errors import DataError, ModelError, UsageError
from aegan.model.nets import Discriminator, Generator, embedding_dim
from aegan.progress import Progress, no_progress
from aegan.score_names import (
    D_SCORE_NAMES,
    DISTANCES,
    FLOAT32_MAX,
    G_SCORE_NAMES,
    SCORE_NAMES,
    generator_score_parts,
    nan_to_max,
    score_index,
)

SegmentArray = np.ndarray | torch.Tensor
"""One clip's segments, (S, H, W) or (S, 1, H, W); numpy arrays may be memory-mapped."""

Transform = Callable[[torch.Tensor], torch.Tensor]
"""Applied to each batch on the device before the networks, e.g. feature scaling."""

KNN_NEIGHBOURS = 2
LOF_NEIGHBOURS = 4
LOF_CONTAMINATION = 1e-6
"""As in the original; it only sets LOF's unused decision offset, not the scores."""
MIN_TRAINING_CLIPS = LOF_NEIGHBOURS + 1


# ---------------------------------------------------------------- per segment


@dataclass(frozen=True)
class SegmentOutputs:
    """Per-segment distances (each (B,)) and critic embeddings (B, E) of one batch."""

    x_1: torch.Tensor
    x_2: torch.Tensor
    z_1: torch.Tensor
    z_2: torch.Tensor
    z_cos: torch.Tensor
    embedding: torch.Tensor

    def distances(self) -> torch.Tensor:
        """(B, len(DISTANCES)), columns in ``DISTANCES`` order."""
        return torch.stack([getattr(self, name) for name in DISTANCES], dim=1)


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Score with BatchNorm's running statistics, then restore each module's mode.

    Scoring in training mode would make a clip's score depend on its batch mates.
    """
    modes = [[(m, m.training) for m in module.modules()] for module in modules]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for saved in modes:
            for module, training in saved:
                module.training = training


def _summed_per_segment(values: torch.Tensor) -> torch.Tensor:
    return values.flatten(1).sum(dim=1)


def segment_outputs(
    generator: Generator, discriminator: Discriminator, x: torch.Tensor
) -> SegmentOutputs:
    """All per-segment quantities of the 19 scores from one pass of each network part.

    x is (B, 1, H, W) on the nets' device. The Encoder runs on x and on r, the
    Decoder and the Discriminator once on x; gradients are not tracked.
    """
    with torch.no_grad(), eval_mode(generator, discriminator):
        z = generator.encode(x)
        r = generator.decode(z)
        z_r = generator.encode(r)
        _, embedding = discriminator(x)
        return SegmentOutputs(
            x_1=_summed_per_segment((r - x).abs()),
            x_2=_summed_per_segment((r - x).pow(2)),
            z_1=_summed_per_segment((z_r - z).abs()),
            z_2=_summed_per_segment((z_r - z).pow(2)),
            z_cos=_summed_per_segment(1 - F.cosine_similarity(z_r, z, dim=1)),
            embedding=embedding,
        )


# ---------------------------------------------------------------- batching across clips


class _Batch(NamedTuple):
    segments: torch.Tensor  # (B, 1, H, W) on the device
    clip_ids: torch.Tensor  # (B,) int64 on the CPU: the clip of each segment
    clips_done: int  # clips whose last segment is in this or an earlier batch


def _segment_counts(clips: Sequence[SegmentArray], isize: int) -> np.ndarray:
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


def _concatenate(pieces: list[SegmentArray]) -> torch.Tensor:
    """One fresh tensor from slices of several clips (numpy memmaps are read only here)."""
    if all(isinstance(piece, torch.Tensor) for piece in pieces):
        return torch.cat(pieces)
    return torch.from_numpy(np.concatenate([np.asarray(piece) for piece in pieces]))


def _batches(
    clips: Sequence[SegmentArray],
    counts: np.ndarray,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    transform: Transform | None = None,
) -> Iterator[_Batch]:
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
        segments = _concatenate(pieces)
        segments = segments.reshape(-1, 1, *segments.shape[-2:]).to(device=device, dtype=dtype)
        if transform is not None:
            segments = transform(segments)
        ids = np.repeat(np.arange(first, stop), np.subtract(highs, lows))
        done = int(np.searchsorted(offsets[1:], end, side="right"))
        yield _Batch(segments, torch.from_numpy(ids), done)


def _place(device: str | torch.device | None, *modules: nn.Module) -> torch.device:
    """The device to score on: the nets' own, or the one given (the nets move there)."""
    if device is None:
        return next(modules[0].parameters()).device
    device = torch.device(device)
    for module in modules:
        module.to(device)
    return device


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise UsageError(f"The batch size must be positive; got {batch_size}.")


# ---------------------------------------------------------------- per clip


class _ClipPool:
    """Running per-clip sum, min and max of each segment distance, and embedding sums."""

    def __init__(self, n_clips: int, embedding_dim: int) -> None:
        shape = (n_clips, len(DISTANCES))
        self.pooled = {
            "sum": torch.zeros(shape, dtype=torch.float64),
            "min": torch.full(shape, torch.inf, dtype=torch.float64),
            "max": torch.full(shape, -torch.inf, dtype=torch.float64),
        }
        self.embedding_sum = torch.zeros(n_clips, embedding_dim, dtype=torch.float64)

    def add(self, clip_ids: torch.Tensor, outputs: SegmentOutputs) -> None:
        """Fold in one batch; NaN propagates through all three pools."""
        distances = outputs.distances().cpu().double()
        per_value_ids = clip_ids[:, None].expand_as(distances)
        self.pooled["sum"].index_add_(0, clip_ids, distances)
        self.pooled["min"].scatter_reduce_(0, per_value_ids, distances, "amin")
        self.pooled["max"].scatter_reduce_(0, per_value_ids, distances, "amax")
        self.embedding_sum.index_add_(0, clip_ids, outputs.embedding.cpu().double())

    def generator_score(self, name: str) -> np.ndarray:
        distance, pool = generator_score_parts(name)
        return self.pooled[pool][:, DISTANCES.index(distance)].numpy()


@dataclass(frozen=True)
class ClipScores:
    """All 19 scores of each clip (columns ``names``) and the clip embeddings."""

    values: np.ndarray  # (n_clips, 19) float64; D columns NaN when no detectors were given
    embeddings: np.ndarray  # (n_clips, E) float32
    names: tuple[str, ...] = SCORE_NAMES

    def column(self, name: str) -> np.ndarray:
        return self.values[:, score_index(name)]


def score_clips(
    generator: Generator,
    discriminator: Discriminator,
    clips: Sequence[SegmentArray],
    detectors: EmbeddingDetectors | None = None,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    transform: Transform | None = None,
    progress: Progress | None = None,
) -> ClipScores:
    """The 19 scores of every clip, segments batched across clips.

    Only one batch of segments is in memory at a time. Without ``detectors``
    the four D columns are NaN. device None scores where the nets are.
    ``transform`` maps each batch before the networks (e.g. raw dB to [-1, 1]).
    """
    _check_batch_size(batch_size)
    progress = progress or no_progress
    counts = _segment_counts(clips, discriminator.config.isize)
    device = _place(device, generator, discriminator)
    dtype = next(generator.parameters()).dtype
    pool = _ClipPool(len(clips), embedding_dim(discriminator.config))
    progress("Scoring clips", 0, len(clips))
    for batch in _batches(clips, counts, batch_size, device, dtype, transform):
        pool.add(batch.clip_ids, segment_outputs(generator, discriminator, batch.segments))
        progress("Scoring clips", batch.clips_done, len(clips))
    embeddings = (pool.embedding_sum.numpy() / counts[:, None]).astype(np.float32)
    values = np.full((len(clips), len(SCORE_NAMES)), np.nan)
    for name in G_SCORE_NAMES:
        values[:, score_index(name)] = nan_to_max(pool.generator_score(name))
    if detectors is not None:
        for name, column in detectors.score(embeddings).items():
            values[:, score_index(name)] = column
    return ClipScores(values=values, embeddings=embeddings)


def clip_embeddings(
    discriminator: Discriminator,
    clips: Sequence[SegmentArray],
    *,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    transform: Transform | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """(n_clips, E) float32: each clip's mean critic embedding (e.g. of the training clips)."""
    _check_batch_size(batch_size)
    progress = progress or no_progress
    counts = _segment_counts(clips, discriminator.config.isize)
    device = _place(device, discriminator)
    dtype = next(discriminator.parameters()).dtype
    n_clips = len(clips)
    sums = torch.zeros(n_clips, embedding_dim(discriminator.config), dtype=torch.float64)
    progress("Embedding clips", 0, n_clips)
    with torch.no_grad(), eval_mode(discriminator):
        for batch in _batches(clips, counts, batch_size, device, dtype, transform):
            _, embedding = discriminator(batch.segments)
            sums.index_add_(0, batch.clip_ids, embedding.cpu().double())
            progress("Embedding clips", batch.clips_done, n_clips)
    return (sums.numpy() / counts[:, None]).astype(np.float32)


# ---------------------------------------------------------------- embedding detectors


class EmbeddingDetectors:
    """The four D scores, fitted on training clip embeddings (all sections pooled).

    Rebuilt from the stored embeddings rather than pickled. Mahalanobis uses
    the pseudo-inverse of the sample covariance: the inverse when the
    covariance has full rank, and still a distance (within the span of the
    training embeddings) when it is singular, e.g. with fewer clips than
    dimensions, where the original fails. A non-finite embedding gets
    float32 max in every D score.
    """

    def __init__(self, train_embeddings: np.ndarray) -> None:
        embeddings = np.asarray(train_embeddings, dtype=np.float32)
        self._check_training(embeddings)
        self._train = embeddings
        as_float64 = embeddings.astype(np.float64)
        self._mean = as_float64.mean(axis=0)
        self._precision = np.linalg.pinv(np.cov(as_float64, rowvar=False), hermitian=True)
        self._knn = NearestNeighbors(n_neighbors=KNN_NEIGHBOURS, metric="cosine").fit(embeddings)
        self._lof = LocalOutlierFactor(
            n_neighbors=LOF_NEIGHBOURS,
            contamination=LOF_CONTAMINATION,
            metric="cosine",
            novelty=True,
        ).fit(embeddings)

    @staticmethod
    def _check_training(embeddings: np.ndarray) -> None:
        if embeddings.ndim != 2 or len(embeddings) < MIN_TRAINING_CLIPS:
            raise DataError(
                f"The embedding detectors need at least {MIN_TRAINING_CLIPS} training clips "
                f"(an array of shape (clips, dims)); got shape {embeddings.shape}.",
                "Train or calibrate with more normal clips.",
            )
        if not np.isfinite(embeddings).all():
            raise ModelError(
                "The training clips' embeddings are not all finite: the model has diverged.",
                "Retrain the model, e.g. with a lower learning rate.",
            )

    @property
    def train_embeddings(self) -> np.ndarray:
        """(N, E) float32: all a detector needs to be rebuilt."""
        return self._train

    def _maha(self, embeddings: np.ndarray) -> np.ndarray:
        centred = embeddings.astype(np.float64) - self._mean
        squared = np.einsum("ij,jk,ik->i", centred, self._precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def _cos(self, embeddings: np.ndarray) -> np.ndarray:
        similarity = F.cosine_similarity(
            torch.from_numpy(embeddings.astype(np.float64)),
            torch.from_numpy(self._mean)[None, :],
            dim=1,
        )
        return 1.0 - similarity.numpy()

    def score(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """The D scores of clip embeddings (n, E), keyed by score name; higher = more anomalous."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self._train.shape[1]:
            raise ModelError(
                f"Embeddings of shape {embeddings.shape} do not fit detectors fitted on "
                f"{self._train.shape[1]}-dimensional embeddings.",
                "Score with the discriminator whose training embeddings built the detectors.",
            )
        finite = np.isfinite(embeddings).all(axis=1)
        scores = {name: np.full(len(embeddings), FLOAT32_MAX) for name in D_SCORE_NAMES}
        if finite.any():
            for name, column in self._score_finite(embeddings[finite]).items():
                scores[name][finite] = nan_to_max(column)
        return scores

    def _score_finite(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "D_maha": self._maha(embeddings),
            "D_knn": self._knn.kneighbors(embeddings)[0].sum(axis=1).astype(np.float64),
            "D_lof": -self._lof.score_samples(embeddings).astype(np.float64),
            "D_cos": self._cos(embeddings),
        }

    def training_scores(self) -> dict[str, np.ndarray]:
        """The training clips' own D scores as if each were unseen (for thresholds).

        kNN leaves each clip out of its own neighbours and LOF uses each clip's
        outlier factor from the fit; Mahalanobis and cosine need no leaving out.
        """
        scores = {
            "D_maha": self._maha(self._train),
            "D_knn": self._knn.kneighbors()[0].sum(axis=1).astype(np.float64),
            "D_lof": -self._lof.negative_outlier_factor_.astype(np.float64),
            "D_cos": self._cos(self._train),
        }
        return {name: nan_to_max(column) for name, column in scores.items()}
