"""Validation after every epoch, the two selection protocols, and the bundle they select.

Validation scores the dev test set with all 19 scores, the embedding
detectors fitted on the current training embeddings (as the original).

``paper`` keeps the epoch whose best score has the highest official figure
(strictly higher replaces, so the first of equal epochs stays) and that
score: it chooses on labelled test data, and the bundle says so.
``last`` keeps the last epoch and the recipe's score and looks at no labels.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aegan.bundles.provenance import Provenance, RecordedFigure
from aegan.bundles.registry import bundle_path
from aegan.calibration.calibrate import calibrate
from aegan.config.recipes import recipe_origin
from aegan.config.schema import Config
from aegan.dcase.evaluation import Evaluation
from aegan.dcase.facts import MachineType
from aegan.dcase.metrics import OFFICIAL_FIGURE, evaluate
from aegan.errors import ModelError
from aegan.features.cache import FeatureSet
from aegan.features.segments import Scaler
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.model.scores import clip_embeddings, score_clips
from aegan.owndata.folder import OWN_SUBSET, own_folder, test_set_name
from aegan.progress import Progress, no_progress
from aegan.training import runs
from aegan.training.batching import DeviceFeatures
from aegan.training.runs import Best, Checkpoint, EpochRecord
from aegan.training.wgan import EpochLosses, Trainer


class Validator:
    """All 19 scores on the dev test set, with detectors fitted on the current training embeddings."""

    def __init__(
        self,
        cfg: Config,
        train_data: DeviceFeatures,
        dev_test: FeatureSet,
        scaler: Scaler,
        device: torch.device,
    ) -> None:
        self.cfg = cfg
        self.train_segments = train_data.clip_segments()
        test_data = DeviceFeatures.upload(
            [dev_test], scaler, device, cfg.feat.segment_frames, cfg.feat.segment_hop
        )
        self.test_segments = test_data.clip_segments()
        self.clips = dev_test.clips

    def __call__(self, trainer: Trainer, progress: Progress = no_progress) -> Evaluation:
        batch = self.cfg.train.batch_size
        embeddings = clip_embeddings(
            trainer.discriminator, self.train_segments, batch_size=batch, progress=progress
        )
        # A diverged critic has no usable embeddings: its D scores stay undefined (NaN).
        detectors = EmbeddingDetectors(embeddings) if np.isfinite(embeddings).all() else None
        scores = score_clips(
            trainer.generator, trainer.discriminator, self.test_segments, detectors,
            batch_size=batch, progress=progress,
        )  # fmt: skip
        return evaluate(self.clips, scores.values, max_fpr=self.cfg.detect.max_fpr)


def epoch_record(
    epoch: int,
    losses: EpochLosses,
    validator: Validator | None,
    trainer: Trainer,
    progress: Progress = no_progress,
) -> EpochRecord:
    """The epoch's losses and speed and, with a validator, every score's official figure."""
    record = EpochRecord(epoch + 1, losses.losses, losses.seconds, losses.segments_per_s)
    if validator is None:
        return record
    started = time.perf_counter()
    evaluation = validator(trainer, progress)
    record.validation_seconds = time.perf_counter() - started
    record.figure_name = OFFICIAL_FIGURE[evaluation.year]
    record.figures = {name: fig.official for name, fig in evaluation.scores.items()}
    if evaluation.best is not None:
        record.best_score = evaluation.best
        record.best_figure = evaluation.scores[evaluation.best].official
    return record


def keep_best(best: Best | None, record: EpochRecord, trainer: Trainer) -> Best | None:
    """The best epoch so far after ``record``; marks the record with it.

    The original's rule: only a strictly higher official figure replaces the kept epoch.
    """
    record.selected = record.best_figure is not None and (
        best is None or record.best_figure > best.figure
    )
    if record.selected:
        best = Best(
            record.epoch, str(record.best_score), float(record.best_figure),
            runs.cpu_copy(trainer.generator.state_dict()),
            runs.cpu_copy(trainer.discriminator.state_dict()),
        )  # fmt: skip
    if best is not None:
        record.kept_epoch, record.kept_score, record.kept_figure = (
            best.epoch, best.score, best.figure,
        )  # fmt: skip
    return best


@dataclass(frozen=True)
class Selected:
    """What the bundle holds: weights of ``epoch`` scored by ``score``."""

    bundle: Path
    epoch: int
    score: str
    figure_name: str
    figure: float | None  # the dev test figure of that epoch and score, when validated
    uses_test_labels: bool


def save_selected(
    name: str,
    cfg: Config,
    trainer: Trainer,
    checkpoint: Checkpoint,
    train_sets: list[FeatureSet],
    processes: int,
    progress: Progress = no_progress,
) -> Selected:
    """Calibrate a detector with the selected weights and score; save it as model ``name``."""
    paper = cfg.train.select == "paper"
    if paper:
        best = checkpoint.best
        if best is None:
            raise ModelError(
                "No epoch had a defined figure on the dev test set, so --select paper has nothing to keep.",
                "Check the dev test labels, or use --select last.",
            )
        weights, epoch, score, figure = (best.netG, best.netD), best.epoch, best.score, best.figure
    else:
        state = trainer.state_dict()
        weights, epoch, score = (state["netG"], state["netD"]), cfg.train.epochs, cfg.detect.score
        figure = _last_figure(checkpoint.history, score)
    device = trainer.rank.device
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    generator.load_state_dict(weights[0])
    discriminator.load_state_dict(weights[1])
    figure_name = OFFICIAL_FIGURE[cfg.year]
    folder = own_folder(train_sets[0].clips)
    test_set = f"the labelled {test_set_name(folder)} set"
    provenance = Provenance.new(
        "trained",
        run=str(runs.run_dir(name)),
        epoch=epoch,
        epochs=cfg.train.epochs,
        selection=cfg.train.select,
        selection_uses_test_labels=paper,
        selection_note=(
            f"epoch and score chosen by the official figure on {test_set} (the original protocol)"
            if paper
            else "last epoch and the recipe's score; no test labels used"
        ),
        figure=RecordedFigure(figure_name, "dev" if folder is None else OWN_SUBSET, figure),
        recipe=recipe_origin(MachineType(cfg.year, cfg.machine)),
        seed=cfg.train.seed,
        processes=processes,
        data=None if folder is None else str(folder),
    )  # fmt: skip
    selected_cfg = dataclasses.replace(cfg, detect=dataclasses.replace(cfg.detect, score=score))
    detector = calibrate(
        selected_cfg, generator.to(device), discriminator.to(device), train_sets,
        provenance=provenance, name=name, batch_size=cfg.train.batch_size, progress=progress,
    )  # fmt: skip
    path = detector.save(bundle_path(name))
    return Selected(path, epoch, score, figure_name, figure, paper)


def _last_figure(history: list[EpochRecord], score: str) -> float | None:
    last = history[-1] if history else None
    value = last.figures.get(score) if last is not None and last.figures else None
    return None if value is None or math.isnan(value) else value
