"""Training a machine's model end to end: features, epochs, validation, selection, bundle.

``train(job, devices)`` checks everything a user can get wrong before any
long work starts, then trains (``aegan.training.wgan``) on one device, on several
(``aegan.training.distributed``), or as one rank under torchrun. After every epoch
rank 0 scores the dev test set with all 19 scores, appends the epoch to the
run's history and writes a checkpoint (``aegan.training.runs``). At the end it
calibrates a ``Detector`` with the selected weights and score and saves the
bundle under the model's name.

Selection (``aegan.training.selection``): ``paper`` is the original's protocol, the
epoch and score with the best dev test figure, chosen on test labels (the
bundle says so); ``last`` looks at no labels: the last epoch, the recipe's score.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from aegan import plots
from aegan.allocator import reused_host_memory
from aegan.features.cache import combined_scaler
from aegan.model.devices import resolve_devices
from aegan.owndata.training import initial_networks
from aegan.progress import Progress
from aegan.training import distributed, runs
from aegan.training.batching import DeviceFeatures
from aegan.training.distributed import Rank, Reporter
from aegan.training.job import (
    TrainCallbacks,
    TrainingInterrupted,
    TrainInputs,
    TrainJob,
    TrainResult,
    check_inputs,
    check_job,
    load_inputs,
)
from aegan.training.runs import Checkpoint, EpochRecord
from aegan.training.selection import Validator, epoch_record, keep_best, save_selected
from aegan.training.wgan import BatchReport, SpeedSettings, Trainer

# ---------------------------------------------------------------- configs of resumed runs


# ---------------------------------------------------------------- checks and inputs


# ---------------------------------------------------------------- entry point


def train(
    job: TrainJob,
    devices: Sequence[torch.device] | str | None = None,
    callbacks: TrainCallbacks | None = None,
) -> TrainResult | None:
    """Train ``job`` and save its bundle; returns None on ranks other than 0 under torchrun.

    ``devices`` are torch devices or a device choice (``"0,1"``, ``"cpu"``);
    by default the user's ``device`` setting. Several devices spawn one process each. Every user error surfaces before
    the run folder is created. Ctrl-C raises TrainingInterrupted.
    """
    callbacks = callbacks or TrainCallbacks()
    if devices is None or isinstance(devices, str):
        devices = resolve_devices(devices)
    dispatch = _dispatcher(callbacks)
    launched = distributed.torchrun_rank()
    if launched is not None:
        return _train_under_torchrun(job, launched, callbacks, dispatch)
    inputs = _prepare(job, len(devices), callbacks.progress)
    if len(devices) == 1:
        return run_rank(Rank(0, 1, devices[0]), dispatch, job, inputs, callbacks.report_interval)
    return distributed.launch(run_rank, (job, None, callbacks.report_interval), devices, dispatch)


def _prepare(job: TrainJob, world: int, progress: Progress) -> TrainInputs:
    """Every check a user can fail, then the features (computed once, cached for all ranks)."""
    check_job(job)
    inputs = load_inputs(job.cfg, job.root, progress)
    check_inputs(job.cfg, inputs, world)
    return inputs


def _train_under_torchrun(
    job: TrainJob, launched: tuple[int, int, int], callbacks: TrainCallbacks, dispatch: Reporter
) -> TrainResult | None:
    """One rank of a torchrun launch: rank 0 checks and prepares, the others then read the cache."""
    rank, world, local = launched
    device = torch.device(f"cuda:{local}") if torch.cuda.is_available() else torch.device("cpu")
    current = Rank(rank, world, device)
    distributed.init_group(current)
    try:
        inputs = _prepare(job, world, callbacks.progress) if current.is_main else None
        distributed.barrier(current)
        report = dispatch if current.is_main else _ignore
        return run_rank(current, report, job, inputs, callbacks.report_interval)
    finally:
        distributed.close_group()


def _ignore(message: Any) -> None:
    """The reporter of ranks other than 0."""


def _dispatcher(callbacks: TrainCallbacks) -> Reporter:
    """Route a rank's report messages to the caller's callbacks."""
    handlers: dict[str, Callable[..., None] | None] = {
        "progress": callbacks.progress,
        "batch": callbacks.on_batch,
        "epoch": callbacks.on_epoch,
        "note": callbacks.on_note,
    }

    def dispatch(message: tuple) -> None:
        handler = handlers[message[0]]
        if handler is not None:
            handler(*message[1:])

    return dispatch


# ---------------------------------------------------------------- one rank


def run_rank(
    rank: Rank,
    report: Reporter,
    job: TrainJob,
    inputs: TrainInputs | None = None,
    report_interval: float = 0.5,
) -> TrainResult | None:
    """Everything one rank does; rank 0 also validates, checkpoints and builds the bundle.

    On the CPU the step's large buffers stay in the process between steps
    (``reused_host_memory``) rather than being mapped and zero-filled anew.
    """
    with reused_host_memory(rank.device):
        return _run_rank(rank, report, job, inputs, report_interval)


def _run_rank(
    rank: Rank,
    report: Reporter,
    job: TrainJob,
    inputs: TrainInputs | None,
    report_interval: float,
) -> TrainResult | None:
    cfg = job.cfg
    inputs = inputs or load_inputs(cfg, job.root, with_test=rank.is_main)
    speed, notes = SpeedSettings.resolve(cfg, rank.device, rank.world)
    for note in notes if rank.is_main else ():
        report(("note", note))
    torch.manual_seed(cfg.train.seed)
    np.random.seed(cfg.train.seed % 2**32)
    trainer = Trainer(cfg, *initial_networks(cfg, job.init), rank, speed)
    scaler = combined_scaler(inputs.train_sets)
    data = DeviceFeatures.upload(
        inputs.train_sets, scaler, rank.device, cfg.feat.segment_frames, cfg.feat.segment_hop
    )
    checkpoint = _starting_point(job, rank)
    if checkpoint.epoch:
        trainer.load_state_dict(checkpoint.state)
    validator = (
        Validator(cfg, data, inputs.dev_test, scaler, rank.device)
        if rank.is_main and inputs.dev_test is not None
        else None
    )
    on_batch = _batch_reporter(report, keep_indices=not rank.distributed)
    progress = _progress_reporter(report)
    saved = checkpoint.epoch
    try:
        for epoch in range(checkpoint.epoch, cfg.train.epochs):
            losses = trainer.run_epoch(data, epoch, on_batch, report_interval)
            if not rank.is_main:
                continue
            record = epoch_record(epoch, losses, validator, trainer, progress)
            best = keep_best(checkpoint.best, record, trainer)
            state, rng = trainer.state_dict(), runs.rng_state(rank.device)
            checkpoint = Checkpoint(cfg, epoch + 1, state, [*checkpoint.history, record], best, rng)
            runs.save_checkpoint(runs.run_dir(job.name), checkpoint)
            _draw_curves(job, checkpoint.history)
            saved = checkpoint.epoch
            report(("epoch", record))
        if not rank.is_main:
            return None
        selected = save_selected(
            job.name, cfg, trainer, checkpoint, inputs.train_sets, rank.world, progress
        )
    except KeyboardInterrupt:
        raise _interrupted(job, saved) from None
    return TrainResult(
        name=job.name, bundle=selected.bundle, run_dir=runs.run_dir(job.name),
        selection=cfg.train.select, epoch=selected.epoch, epochs=cfg.train.epochs,
        score=selected.score, figure_name=selected.figure_name, figure=selected.figure,
        uses_test_labels=selected.uses_test_labels, history=tuple(checkpoint.history),
    )  # fmt: skip


def _starting_point(job: TrainJob, rank: Rank) -> Checkpoint:
    """The checkpoint to continue (read by rank 0, sent to all), or a fresh start."""
    checkpoint = None
    if rank.is_main:
        folder = runs.run_dir(job.name)
        if job.resume:
            checkpoint = runs.read_checkpoint(folder)
            if checkpoint.rng is not None:
                runs.restore_rng(checkpoint.rng, rank.device)
            runs.write_history(folder, checkpoint.history)
            _draw_curves(job, checkpoint.history)
        else:
            runs.start_fresh(folder, job.cfg)
    checkpoint = distributed.broadcast_from_main(checkpoint, rank)
    return checkpoint or Checkpoint(job.cfg, 0, {}, [])


def _draw_curves(job: TrainJob, history: list[EpochRecord]) -> None:
    """The run folder's ``curves.png``, with validation labelled by the job's test set."""
    curves = runs.training_curves(history, job.cfg.detect.score, job.test_set)
    plots.plot_curves(runs.run_dir(job.name) / runs.CURVES, curves)


def _progress_reporter(report: Reporter) -> Progress:
    def progress(task: str, done: float, total: float | None) -> None:
        report(("progress", task, done, total))

    return progress


def _batch_reporter(report: Reporter, keep_indices: bool) -> Callable[[BatchReport], None]:
    def on_batch(batch: BatchReport) -> None:
        report(("batch", batch if keep_indices else dataclasses.replace(batch, indices=None)))

    return on_batch


def _interrupted(job: TrainJob, epochs_done: int) -> TrainingInterrupted:
    where = runs.run_dir(job.name)
    saved = (
        f"epochs 1-{epochs_done} are saved in {where}" if epochs_done else "no epoch was complete"
    )
    return TrainingInterrupted(
        f"Training of {job.name!r} was interrupted; {saved}.",
        "Continue it with the same command plus --resume (and --name if you gave one).",
        name=job.name,
        epochs_done=epochs_done,
    )
