"""The 19 anomaly scores of AEGAN-AD (docs/method.md section 5), batched across clips.

For a clip's segments X: z = Enc(X), r = Dec(z), z' = Enc(r). The 15 generator
scores compare r with X (space ``x``) or z' with z (space ``z``) per segment,
by summed absolute (``1``) or squared (``2``) difference, or by cosine
distance over channels (``cos``, z only), then pool the segments of the clip by
sum, min or max. The 4 discriminator scores compare the clip embedding (the
mean of the critic's segment embeddings) with the training clips' embeddings.
Higher always means more anomalous; a NaN score becomes float32 max.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aegan.allocator import reused_host_memory
from aegan.model.batches import (
    Batch,
    SegmentArray,
    Transform,
    batches,
    check_batch_size,
    place,
    segment_counts,
)
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.inference import scoring_discriminator, scoring_generator
from aegan.model.nets import Discriminator, Generator, embedding_dim
from aegan.model.precision import Precision, network_precision
from aegan.progress import Progress, no_progress
from aegan.score_names import (
    DISTANCES,
    G_SCORE_NAMES,
    SCORE_NAMES,
    generator_score_parts,
    nan_to_max,
    score_index,
)

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
    generator: Generator,
    discriminator: Discriminator,
    x: torch.Tensor,
    precision: Precision = "fp32",
) -> SegmentOutputs:
    """All per-segment quantities of the 19 scores from one pass of each network part.

    x is (B, 1, H, W) on the nets' device. The Encoder runs on x and on r, the
    Decoder and the Discriminator once on x; gradients are not tracked. The
    networks run in ``precision``; the distances are always taken in fp32.
    """
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), eval_mode(generator, discriminator):
        with network_precision(precision, x.device):
            z = generator.encode(x)
            r = generator.decode(z)
            z_r = generator.encode(r)
        z, r, z_r = z.float(), r.float(), z_r.float()
        embedding = critic_embeddings(discriminator, x, precision)
        return SegmentOutputs(**segment_distances(x, z, r, z_r), embedding=embedding)


def critic_embeddings(
    discriminator: Discriminator, x: torch.Tensor, precision: Precision = "fp32"
) -> torch.Tensor:
    """(B, E) fp32 critic embeddings of segments x (B, 1, H, W): one critic pass in
    ``precision``, channels-last, without gradients."""
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), network_precision(precision, x.device):
        _, embedding = discriminator(x)
    return embedding.float()


def segment_distances(
    x: torch.Tensor, z: torch.Tensor, r: torch.Tensor, z_r: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Each segment's five distances (docs/method.md section 5), keyed by ``DISTANCES`` names:
    r against x by summed absolute and squared difference, z_r against z by those and
    by cosine distance over channels."""
    return {
        "x_1": _summed_per_segment((r - x).abs()),
        "x_2": _summed_per_segment((r - x).pow(2)),
        "z_1": _summed_per_segment((z_r - z).abs()),
        "z_2": _summed_per_segment((z_r - z).pow(2)),
        "z_cos": _summed_per_segment(1 - F.cosine_similarity(z_r, z, dim=1)),
    }


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


def _scored_batches(
    clips: Sequence[SegmentArray],
    nets: Sequence[nn.Module],
    device: str | torch.device | None,
    batch_size: int,
    transform: Transform | None,
    progress: Progress | None,
    task: str,
) -> tuple[np.ndarray, Iterator[Batch]]:
    """Each clip's segment count, and its segments batched across clips on the nets' device.

    The one batching loop of scoring: checks the clips, places the nets and
    reports progress (clips done) as the caller consumes the batches.
    """
    check_batch_size(batch_size)
    report = progress or no_progress
    counts = segment_counts(clips, nets[-1].config.isize)
    device = place(device, *nets)
    dtype = next(nets[0].parameters()).dtype

    def reported() -> Iterator[Batch]:
        report(task, 0, len(clips))
        for batch in batches(clips, counts, batch_size, device, dtype, transform):
            yield batch
            report(task, batch.clips_done, len(clips))

    return counts, reported()


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
    precision: Precision = "fp32",
) -> ClipScores:
    """The 19 scores of every clip, segments batched across clips.

    Only one batch of segments is in memory at a time. Without ``detectors``
    the four D columns are NaN. device None scores where the nets are.
    ``transform`` maps each batch before the networks (e.g. raw dB to [-1, 1]).
    ``precision`` bf16 trades a little accuracy for speed (aegan/model/precision.py).
    """
    counts, batches = _scored_batches(
        clips, (generator, discriminator), device, batch_size, transform, progress, "Scoring clips"
    )
    pool = _ClipPool(len(clips), embedding_dim(discriminator.config))
    generator, discriminator = scoring_generator(generator), scoring_discriminator(discriminator)
    with reused_host_memory(next(generator.parameters()).device):
        for batch in batches:
            outputs = segment_outputs(generator, discriminator, batch.segments, precision)
            pool.add(batch.clip_ids, outputs)
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
    precision: Precision = "fp32",
) -> np.ndarray:
    """(n_clips, E) float32: each clip's mean critic embedding (one critic pass per segment)."""
    counts, batches = _scored_batches(
        clips, (discriminator,), device, batch_size, transform, progress, "Embedding clips"
    )
    sums = torch.zeros(len(clips), embedding_dim(discriminator.config), dtype=torch.float64)
    discriminator = scoring_discriminator(discriminator)
    with reused_host_memory(next(discriminator.parameters()).device):
        for batch in batches:
            embedding = critic_embeddings(discriminator, batch.segments, precision)
            sums.index_add_(0, batch.clip_ids, embedding.cpu().double())
    return (sums.numpy() / counts[:, None]).astype(np.float32)
