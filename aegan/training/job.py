"""What a training run is: the job, its callbacks and result, and every check made before it starts.

Everything a user can get wrong (the name, the output folders, a resumed
run's settings, too little data, a batch larger than the data) is checked
here, before any long work.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aegan.bundles.registry import bundle_path
from aegan.config.keys import flatten, to_dict
from aegan.config.schema import Config, apply_sources
from aegan.dcase.clips import discover
from aegan.errors import AeganError, DataError, UsageError
from aegan.features.cache import FeatureSet, load_or_compute
from aegan.features.prepare import prepare_machine, training_sets
from aegan.model.embedding import MIN_TRAINING_CLIPS
from aegan.owndata.folder import OwnData, test_set_name
from aegan.owndata.training import check_init, own_inputs
from aegan.paths import models_dir, runs_dir
from aegan.progress import Progress, no_progress
from aegan.training import runs
from aegan.training.batching import check_batches
from aegan.training.runs import EpochRecord
from aegan.training.wgan import BatchReport

RESUMABLE_KEYS = ("train.epochs", "train.precision", "train.compile")
"""Settings a resumed run may change: more epochs, other speed options."""


class TrainingInterrupted(AeganError):
    """Ctrl-C during training; the run folder holds the last complete epoch."""

    exit_code = 130

    def __init__(
        self, message: str, hint: str | None = None, *, name: str = "", epochs_done: int = 0
    ):
        super().__init__(message, hint)
        self.name = name
        self.epochs_done = epochs_done


@dataclass(frozen=True)
class TrainJob:
    """What to train (picklable: it travels to every rank's process)."""

    cfg: Config
    root: Path | OwnData  # a DCASE data root, or an own data folder (aegan.owndata.folder)
    name: str
    resume: bool = False
    force: bool = False  # replace a run or model of the same name
    init: str | None = None  # a model whose weights the networks start from (fine-tuning)

    @property
    def own(self) -> OwnData | None:
        """The own data folder trained on, or None for a DCASE machine type."""
        return self.root if isinstance(self.root, OwnData) else None

    @property
    def test_set(self) -> str:
        """The labelled test set that validation scores: "dev test", or an own folder's."""
        return test_set_name(None if self.own is None else self.own.folder)


@dataclass
class TrainCallbacks:
    """How a run reports: bars for long steps, each reported batch, each epoch, notes."""

    progress: Progress = no_progress
    on_batch: Callable[[BatchReport], None] | None = None
    on_epoch: Callable[[EpochRecord], None] | None = None
    on_note: Callable[[str], None] | None = None
    report_interval: float = 0.5  # seconds between batch reports


@dataclass(frozen=True)
class TrainResult:
    name: str
    bundle: Path
    run_dir: Path
    selection: str  # "paper" or "last"
    epoch: int  # the epoch whose weights the bundle holds (1-based)
    epochs: int
    score: str
    figure_name: str
    figure: float | None  # the dev test figure of that epoch and score, when validated
    uses_test_labels: bool
    history: tuple[EpochRecord, ...]


@dataclass
class TrainInputs:
    train_sets: list[FeatureSet]
    dev_test: FeatureSet | None  # own data: its labelled test set, when DIR/test exists
    own: OwnData | None = None

    @property
    def n_train_clips(self) -> int:
        return sum(len(fs) for fs in self.train_sets)


def resumed_config(saved: Config, config_file: Path | None, overrides: Iterable[str]) -> Config:
    """A resumed run's config: the saved one with the given changes, of RESUMABLE_KEYS only."""
    cfg = apply_sources(copy.deepcopy(saved), config_file, overrides)
    check_resumable(saved, cfg)
    return cfg


def check_resumable(saved: Config, cfg: Config) -> None:
    """Refuse to continue a run with settings that would make it a different run."""
    before, after = flatten(to_dict(saved)), flatten(to_dict(cfg))
    changed = [k for k in after if after[k] != before[k] and k not in RESUMABLE_KEYS]
    if changed:
        raise UsageError(
            f"A resumed run keeps its settings; these differ from the run's: {', '.join(changed)}.",
            f"Drop those options (only {', '.join(RESUMABLE_KEYS)} may change), "
            "or start a new run without --resume.",
        )


def load_inputs(
    cfg: Config, root: Path | OwnData, progress: Progress = no_progress, with_test: bool = True
) -> TrainInputs:
    """The training features and, when present, the dev test features (computed or cached)."""
    if isinstance(root, OwnData):
        return TrainInputs(*own_inputs(cfg, root, progress, with_test), own=root)
    prepared = prepare_machine(cfg, root, progress, include_test=False)
    train_sets = training_sets(prepared)
    dev_test = None
    if with_test:
        clips = discover(root, cfg.year, cfg.machine, "dev", "test")
        if clips:
            dev_test, _ = load_or_compute(clips, cfg.feat, "dev_test", progress)
    return TrainInputs(train_sets, dev_test)


def check_job(job: TrainJob) -> None:
    """The name, the output folders, and (resuming) the run's checkpoint and settings."""
    runs.check_name(job.name)
    for folder in (runs_dir(), models_dir()):
        runs.ensure_writable(folder)
    if job.init is not None:
        check_init(job.cfg, job.init)
    if not job.resume:
        if runs.name_taken(job.name) and not job.force:
            raise UsageError(
                f"A run or model named {job.name!r} already exists.",
                "Pick another --name, add --force to replace it, or add --resume to continue it.",
            )
        return
    checkpoint = runs.read_checkpoint(runs.run_dir(job.name))
    check_resumable(checkpoint.config, job.cfg)
    if checkpoint.epoch > job.cfg.train.epochs:
        raise UsageError(
            f"Run {job.name!r} has done {checkpoint.epoch} epochs already, more than {job.cfg.train.epochs}.",
            f"Resume with --epochs {checkpoint.epoch} or more.",
        )
    if checkpoint.epoch >= job.cfg.train.epochs and bundle_path(job.name).exists():
        raise UsageError(
            f"Run {job.name!r} has finished its {checkpoint.epoch} epochs and its model exists.",
            f"To train further, resume with more epochs, e.g. --epochs {checkpoint.epoch + 10}.",
        )


def check_inputs(cfg: Config, inputs: TrainInputs, world: int) -> None:
    if inputs.n_train_clips < MIN_TRAINING_CLIPS:
        raise DataError(
            f"Only {inputs.n_train_clips} training clips; a model needs at least "
            f"{MIN_TRAINING_CLIPS} (its embedding detectors compare each clip with its neighbours).",
            "Add training clips or train on more of them (--set train_set=deval).",
        )
    frames, hop = cfg.feat.segment_frames, cfg.feat.segment_hop
    segments = sum(len(fs.segment_starts(frames, hop)) for fs in inputs.train_sets)
    check_batches(segments, cfg.train.batch_size, world)
    if cfg.train.select != "paper" or inputs.dev_test is not None:
        return
    if inputs.own is not None:
        test = inputs.own.folder / "test"
        raise DataError(
            f"--select paper picks the epoch by a labelled test set, and {test} does not exist.",
            f"Use --select last, or add {test / 'normal'} and {test / 'anomaly'}.",
        )
    raise DataError(
        f"--select paper picks the epoch by the dev test set, and there is none for "
        f"{cfg.machine} (DCASE {cfg.year}).",
        "Use --select last (the last epoch and the recipe's score), or add dev_data/<machine>/test.",
    )


def resumed_own_run(
    name: str | None, config_file: Path | None, overrides: Iterable[str]
) -> tuple[Config, str]:
    """The config of an own-data run to continue: it is named, as own runs have no machine."""
    if name is None:
        raise UsageError(
            "--resume with --data needs the run's --name.",
            "Give the --name the run started with.",
        )
    return resumed_config(
        runs.read_checkpoint(runs.run_dir(name)).config, config_file, overrides
    ), name


def resumed_run(
    year: int, machine: str, name: str | None, config_file: Path | None, overrides: Iterable[str]
) -> tuple[Config, str]:
    """The config and name of the run to continue: the named one or this machine's latest."""
    name = name or runs.latest_run(year, machine)
    if name is None:
        raise UsageError(
            f"There is no run of {machine} (DCASE {year}) to resume.", "Start one without --resume."
        )
    saved = runs.read_checkpoint(runs.run_dir(name)).config
    if (saved.year, saved.machine) != (year, machine):
        raise UsageError(
            f"Run {name!r} trains {saved.machine} (DCASE {saved.year}), not {machine} (DCASE {year}).",
            f"Resume it with `aegan train {saved.machine} --year {saved.short_year} --name {name} --resume`.",
        )
    return resumed_config(saved, config_file, overrides), name


def machine_job(
    machine: str,
    year: int | str,
    *,
    name: str | None = None,
    resume: bool = False,
    force: bool = False,
    config_file: Path | None = None,
    overrides: Iterable[str] = (),
    data_dir: Path | None = None,
) -> TrainJob:
    """A DCASE machine type's run: its config (recipe, ``config_file``, ``overrides``), data root, name.

    ``resume`` continues the named run, or this machine's latest; a new run
    is named after the machine type and the time unless ``name`` is given.
    The data root is ``data_dir``, or the one the settings give for the year.
    """
    from aegan.config.schema import load_config
    from aegan.config.settings import data_root
    from aegan.dcase.clips import require_root
    from aegan.dcase.facts import MachineType

    kind = MachineType.parse(year, machine)
    if resume:
        cfg, name = resumed_run(kind.year, kind.name, name, config_file, overrides)
    else:
        cfg = load_config(kind.year, kind.name, config_file, overrides)
        name = runs.default_name(cfg) if name is None else name
    root = require_root(data_root(cfg.year, data_dir), cfg.year)
    return TrainJob(cfg, root, name, resume=resume, force=force)


def own_job(
    data: Path | str,
    *,
    recipe: str | None = None,
    init: str | None = None,
    name: str | None = None,
    resume: bool = False,
    force: bool = False,
    config_file: Path | None = None,
    overrides: Iterable[str] = (),
) -> TrainJob:
    """A run on an own data folder (DIR/train, optional DIR/test): its config and name.

    The config is ``recipe``'s (or the defaults) with ``config_file`` and
    ``overrides``; ``init`` starts from another model's weights. A resumed
    run must be named; a new one is named after the folder and the time.
    """
    from aegan.owndata.training import own_config

    own = OwnData.at(data)
    if resume:
        cfg, name = resumed_own_run(name, config_file, overrides)
    else:
        cfg = own_config(own, recipe, init, config_file, overrides)
        name = runs.default_name(cfg, base=own.name) if name is None else name
    return TrainJob(cfg, own, name, resume=resume, force=force, init=init)
