"""Calibration: turning trained networks and the training features into a Detector.

One scoring pass over the training clips gives their embeddings (the D scores
are fitted on them) and all 19 of their scores (the decision thresholds are
fitted on them, docs/method.md sections 9 and 10). ``import_checkpoint`` does
the same for an original AEGAN-AD ``.pth`` file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aegan.config.schema import Config
from aegan.features.cache import FeatureSet, combined_scaler
from aegan.features.prepare import prepare_machine, training_sets
from aegan.features.segments import Scaler
from aegan.model.bundle import base_provenance
from aegan.model.checkpoints import networks_from_checkpoint
from aegan.model.detector import Detector
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.model.registry import bundle_path
from aegan.model.scores import score_clips
from aegan.paths import file_digests
from aegan.progress import Progress, no_progress
from aegan.score_names import score_index


def calibrate(
    cfg: Config,
    generator: Generator,
    discriminator: Discriminator,
    train_sets: Sequence[FeatureSet],
    *,
    provenance: dict[str, Any] | None = None,
    name: str | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
) -> Detector:
    """A detector from trained networks and the training features.

    D scores of training clips leave each clip out of its own neighbours.
    """
    scaler = combined_scaler(train_sets)
    segments = [
        seg
        for fs in train_sets
        for seg in fs.all_segments(cfg.feat.segment_frames, cfg.feat.segment_hop)
    ]
    result = score_clips(
        generator, discriminator, segments, None,
        batch_size=batch_size, transform=scaler, progress=progress,
    )  # fmt: skip
    detectors = EmbeddingDetectors(result.embeddings)
    train_scores = result.values.copy()
    for score, column in detectors.training_scores().items():
        train_scores[:, score_index(score)] = column
    return Detector(
        cfg, generator, discriminator, scaler, detectors, train_scores,
        mean_training_spectrogram(train_sets, scaler), provenance, name,
    )  # fmt: skip


def mean_training_spectrogram(train_sets: Sequence[FeatureSet], scaler: Scaler) -> np.ndarray:
    """Mean scaled training spectrogram mapped to [0, 1] (the localisation reference).

    As the original, over the dev sections' training clips when there are any;
    clips of different lengths are cropped to the shortest.
    """
    dev = [fs for fs in train_sets if fs.clips and fs.clips[0].subset == "dev"] or list(train_sets)
    frames = min(int(fs.frames.min()) for fs in dev)
    total = np.zeros((dev[0].data.shape[0], frames), dtype=np.float64)
    count = 0
    for fs in dev:
        for i in range(len(fs)):
            total += fs.spectrogram(i)[:, :frames]
            count += 1
    return ((scaler(total / count) + 1.0) / 2.0).astype(np.float32)


def import_checkpoint(
    path: Path,
    cfg: Config,
    root: Path,
    name: str,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    source: dict[str, Any] | None = None,
    progress: Progress = no_progress,
) -> Detector:
    """A calibrated bundle from an original checkpoint and the machine's training data.

    The training features give the scaling statistics, the training embeddings
    and the thresholds; the bundle is saved under ``name`` in the models folder.
    """
    generator, discriminator, recorded = networks_from_checkpoint(path, cfg)
    prepared = prepare_machine(cfg, root, progress, include_test=False)
    train_sets = training_sets(prepared)
    provenance = base_provenance(
        "imported",
        checkpoint=Path(path).name,
        checkpoint_sha256=file_digests(Path(path))[1],
        recorded_figure=recorded,
        train_set=cfg.train_set,
        **(source or {}),
    )
    detector = calibrate(
        cfg, generator.to(device), discriminator.to(device), train_sets,
        provenance=provenance, name=name, batch_size=batch_size, progress=progress,
    )  # fmt: skip
    detector.save(bundle_path(name))
    return detector
