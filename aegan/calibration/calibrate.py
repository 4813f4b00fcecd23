"""Calibration: turning trained networks and the training features into a Detector.

The critic's embeddings of every training clip fit the D scores; the 19
scores of a stratified subset of the training clips fit the decision
thresholds (docs/method.md sections 5, 9 and 10). That is one network pass
per segment for most clips and four for few (aegan/calibration/passes.py),
resumable after an interruption. ``import_checkpoint`` does the same for an
original AEGAN-AD ``.pth`` file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aegan.bundles.checkpoints import networks_from_checkpoint
from aegan.bundles.provenance import Provenance
from aegan.bundles.registry import bundle_path
from aegan.calibration.passes import (
    CalibrationEstimate,
    estimate_calibration,
    forget_work,
    run_passes,
    work_dir,
    work_key,
)
from aegan.calibration.threshold_clips import DEFAULT_THRESHOLD_CLIPS, threshold_subset
from aegan.config.schema import Config
from aegan.detector.detector import Detector
from aegan.features.cache import FeatureSet, combined_scaler
from aegan.features.prepare import prepare_machine, training_sets
from aegan.features.segments import Scaler
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.model.precision import Precision, check_precision
from aegan.model.reference import relative_to_reference
from aegan.paths import file_digests
from aegan.progress import Progress, no_progress
from aegan.score_names import score_index

Announce = Callable[[CalibrationEstimate], None]
"""Told the measured run-time estimate before the long passes (the CLI prints it)."""


def _clip_identity(train_sets: Sequence[FeatureSet], scaler: Scaler, cfg: Config) -> str:
    """Where the clips come from, for the key of resumable work."""
    return json.dumps(
        {
            "clips": [
                [str(c.path), int(n)]
                for fs in train_sets
                for c, n in zip(fs.clips, fs.frames, strict=True)
            ],
            "scaler": [scaler.max, scaler.min],
            "segments": [cfg.feat.segment_frames, cfg.feat.segment_hop],
        }
    )


def calibrate(
    cfg: Config,
    generator: Generator,
    discriminator: Discriminator,
    train_sets: Sequence[FeatureSet],
    *,
    provenance: Provenance | None = None,
    name: str | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
    threshold_clips: int | None = DEFAULT_THRESHOLD_CLIPS,
    precision: Precision = "fp32",
    resumable: bool = True,
    announce: Announce | None = None,
) -> Detector:
    """A detector from trained networks and the training features.

    ``threshold_clips`` training clips (stratified, aegan/calibration/threshold_clips.py; None:
    all) get all 19 scores for the thresholds; every clip gets its embedding.
    D scores of training clips leave each clip out of its own neighbours. With
    ``resumable``, finished chunks are kept in the cache until calibration ends.
    """
    precision = check_precision(precision, next(generator.parameters()).device)
    scaler = combined_scaler(train_sets)
    clips = [
        seg
        for fs in train_sets
        for seg in fs.all_segments(cfg.feat.segment_frames, cfg.feat.segment_hop)
    ]
    subset = threshold_subset([c for fs in train_sets for c in fs.clips], threshold_clips)
    if announce is not None:
        announce(estimate_calibration(
            generator, discriminator, clips, subset, transform=scaler, precision=precision
        ))  # fmt: skip
    folder = None
    if resumable:
        settings = f"{precision} {batch_size}"
        identity = _clip_identity(train_sets, scaler, cfg)
        folder = work_dir(work_key((generator, discriminator), clips, subset, identity, settings))
    passes = run_passes(
        generator, discriminator, clips, subset, transform=scaler, batch_size=batch_size,
        precision=precision, folder=folder, progress=progress,
    )  # fmt: skip
    detectors = EmbeddingDetectors(passes.embeddings)
    counts = np.array([len(c) for c in clips], dtype=np.int64)
    reference = int(np.median(counts))
    train_scores = relative_to_reference(passes.values, counts, reference)
    for score, column in detectors.training_scores().items():
        train_scores[:, score_index(score)] = column
    detector = Detector(
        cfg, generator, discriminator, scaler, detectors, train_scores,
        mean_training_spectrogram(train_sets, scaler), provenance, name,
        reference_segments=reference, precision=precision,
    )  # fmt: skip
    forget_work(folder)
    return detector


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
    threshold_clips: int | None = DEFAULT_THRESHOLD_CLIPS,
    precision: Precision = "fp32",
    announce: Announce | None = None,
) -> Detector:
    """A calibrated bundle from an original checkpoint and the machine's training data.

    The training features give the scaling statistics, the training embeddings
    and the thresholds; the bundle is saved under ``name`` in the models folder.
    """
    generator, discriminator, recorded = networks_from_checkpoint(path, cfg)
    prepared = prepare_machine(cfg, root, progress, include_test=False)
    train_sets = training_sets(prepared)
    provenance = Provenance.new(
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
        threshold_clips=threshold_clips, precision=precision, announce=announce,
    )  # fmt: skip
    detector.save(bundle_path(name))
    return detector
