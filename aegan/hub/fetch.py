"""What ``aegan fetch`` does, as library calls: which models and machine types the
names on its command line mean, a published model from its checkpoint to a
calibrated bundle, and an overview of what is available.

A published checkpoint holds only the networks; the scaling statistics,
training embeddings and thresholds come from the machine's training data. So
fetching a model calibrates it when that data is present, and otherwise keeps
the checkpoint and says which training folders are still missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aegan import paths
from aegan.bundles.header import describe_bundle
from aegan.bundles.registry import (
    PublishedModel,
    bundle_path,
    checkpoint_path,
    published,
    require_published,
)
from aegan.calibration.threshold_clips import DEFAULT_THRESHOLD_CLIPS, check_threshold_clips
from aegan.config.schema import Config
from aegan.config.settings import HubSettings
from aegan.dcase.facts import MachineType, parse_year
from aegan.errors import UsageError
from aegan.hub.archives import missing_training_folders
from aegan.hub.lockfile import turn
from aegan.hub.seafile import (
    FetchedCheckpoint,
    copy_checkpoint,
    fetch_checkpoint,
)
from aegan.hub.zenodo import FetchSummary, fetch_dataset
from aegan.progress import Progress, no_progress

if TYPE_CHECKING:
    import torch

    from aegan.calibration.passes import CalibrationEstimate


@dataclass(frozen=True)
class Target:
    """One name given to fetch: a published model, or (with --data) a machine type."""

    year: int
    machine: str
    model: PublishedModel | None


DEFAULT_DATA_YEAR = 2022
"""The year of a machine type named for its data without a year."""


def parse_targets(names: Sequence[str], year: int | str | None, data: bool) -> list[Target]:
    """What the names on ``aegan fetch``'s command line mean.

    A name is a published model (``fan22``, any letter case); with ``data`` it
    may also be a machine type of ``year`` (default 2022). A ``year`` that
    contradicts a named model is a usage error.
    """
    given = parse_year(year) if year else None
    targets = []
    for name in names:
        model = published(name)
        if model is None and data:
            kind = MachineType.parse(given or DEFAULT_DATA_YEAR, name)
            targets.append(Target(kind.year, kind.name, None))
            continue
        model = model or require_published(name)
        if given is not None and given != model.year:
            raise UsageError(
                f"{model.name} is a DCASE {model.year} model, but --year says {given}.",
                f"Drop --year, or name the DCASE {given} model.",
            )
        targets.append(Target(model.year, model.machine, model))
    return targets


@dataclass(frozen=True)
class ModelFetch:
    """The outcome of fetching one published model.

    ``checkpoint`` is None when the model was already calibrated (nothing was
    done); ``missing_data`` lists the training folders calibration still needs.
    """

    model: PublishedModel
    root: Path
    checkpoint: FetchedCheckpoint | None = None
    bundle: Path | None = None
    calibrated: bool = False
    missing_data: list[Path] = field(default_factory=list)


def fetch_model(
    model: PublishedModel,
    cfg: Config,
    root: Path,
    settings: HubSettings,
    *,
    source_file: Path | None = None,
    remote_path: str | None = None,
    force: bool = False,
    device: str | torch.device = "cpu",
    progress: Progress = no_progress,
    calibration: dict[str, Any] | None = None,
) -> ModelFetch:
    """Fetch (or import, from ``source_file``) a published checkpoint and calibrate it.

    A model already calibrated is left alone unless ``force``, ``source_file``
    or ``remote_path`` asks for another checkpoint. ``calibration`` holds
    keywords of ``import_checkpoint`` (threshold_clips, precision, announce).
    """
    bundle = bundle_path(model.name)
    redo = force or source_file is not None or remote_path is not None
    if not redo and describe_bundle(bundle) is not None:
        return ModelFetch(model, root, bundle=bundle)
    with turn(bundle, progress) as waited:  # another aegan may fetch the same model
        if waited and not redo and describe_bundle(bundle) is not None:
            return ModelFetch(model, root, bundle=bundle)
        for folder in (bundle.parent, checkpoint_path(model).parent):
            paths.sweep_stale(folder)  # what a killed fetch left half-written
        return _fetch_locked(
            model, cfg, root, settings, source_file, remote_path, force, device, progress,
            calibration or {},
        )  # fmt: skip


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch besides the names: the data, where it goes, and how models are calibrated.

    ``device`` is a device choice (default: the ``device`` setting);
    ``threshold_clips`` None means every training clip.
    """

    data: bool = False  # also the DCASE data of the machine types
    split: str = "all"  # which data: dev, eval or all
    data_dir: Path | None = None  # default: the settings' root of each year
    config_file: Path | None = None  # recipe changes that calibration uses
    overrides: tuple[str, ...] = ()
    source_file: Path | None = None  # a hand-downloaded checkpoint (one model)
    remote_path: str | None = None  # the checkpoint's path in the share
    force: bool = False
    device: str | torch.device | None = None
    threshold_clips: int | None = DEFAULT_THRESHOLD_CLIPS
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.threshold_clips is not None:
            check_threshold_clips(self.threshold_clips)

    def calibration(self) -> tuple[torch.device, dict[str, Any]]:
        """The device and the calibration keywords; a bad device or precision fails here."""
        from aegan.model.devices import resolve_device
        from aegan.model.precision import check_precision

        device = resolve_device(self.device)
        keywords = {
            "threshold_clips": self.threshold_clips,
            "precision": check_precision(self.precision, device),
        }
        return device, keywords


@dataclass(frozen=True)
class TargetFetch:
    """What fetching one name did: its data (with ``data``) and its model, when it names one."""

    target: Target
    root: Path
    data: FetchSummary | None = None
    model: ModelFetch | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.target.year,
            "machine": self.target.machine,
            "data": None if self.data is None else dataclasses.asdict(self.data),
            "model": None if self.model is None else dataclasses.asdict(self.model),
        }


def fetch(
    names: Sequence[str],
    *,
    year: int | str | None = None,
    request: FetchRequest = FetchRequest(),
    progress: Progress = no_progress,
    announce: Callable[[CalibrationEstimate], None] | None = None,
    on_fetched: Callable[[TargetFetch], None] | None = None,
) -> list[TargetFetch]:
    """Fetch published models (``fan22``) and, with ``request.data``, machine types' data.

    For each name: the data root and the config are resolved, the data is
    fetched, then the model, which is calibrated when its training data is
    there. Every option is checked before the first download; ``on_fetched``
    hears of each name as it is done, ``announce`` of a calibration's estimate.
    """
    targets = parse_targets(names, year, request.data)
    one_model = len(targets) == 1 and targets[0].model is not None
    if (request.source_file or request.remote_path) and not one_model:
        raise UsageError(
            "A checkpoint file or remote path (--from, --remote-path) needs exactly one model name."
        )
    calibration = request.calibration() if any(t.model for t in targets) else None
    done = []
    for target in targets:
        done.append(_fetch_target(target, request, calibration, progress, announce))
        if on_fetched is not None:
            on_fetched(done[-1])
    return done


def _fetch_target(
    target: Target,
    request: FetchRequest,
    calibration: tuple[torch.device, dict[str, Any]] | None,
    progress: Progress,
    announce: Callable[[CalibrationEstimate], None] | None,
) -> TargetFetch:
    from aegan.config.schema import load_config
    from aegan.config.settings import data_root, load_settings

    settings = load_settings()
    root = data_root(target.year, request.data_dir, settings, download=True)
    summary = None
    if request.data:
        summary = fetch_dataset(
            target.year, target.machine, request.split, root, settings.hub, progress
        )
    if target.model is None or calibration is None:
        return TargetFetch(target, root, summary)
    cfg = load_config(target.year, target.machine, request.config_file, request.overrides)
    device, keywords = calibration
    result = fetch_model(
        target.model, cfg, root, settings.hub, source_file=request.source_file,
        remote_path=request.remote_path, force=request.force, device=device, progress=progress,
        calibration={**keywords, "announce": announce},
    )  # fmt: skip
    return TargetFetch(target, root, summary, result)


def _fetch_locked(
    model: PublishedModel,
    cfg: Config,
    root: Path,
    settings: HubSettings,
    source_file: Path | None,
    remote_path: str | None,
    force: bool,
    device: str | torch.device,
    progress: Progress,
    calibration: dict[str, Any],
) -> ModelFetch:
    from aegan.bundles.checkpoints import networks_from_checkpoint
    from aegan.calibration.calibrate import import_checkpoint  # loads torch

    bundle = bundle_path(model.name)

    def check(path: Path) -> None:  # loads safely, fits this config, finite weights
        networks_from_checkpoint(path, cfg)

    if source_file is not None:
        checkpoint = copy_checkpoint(source_file, model, check)
    else:
        checkpoint = fetch_checkpoint(
            model, settings, remote_path, progress, force=force, check=check
        )
    missing = missing_training_folders(root, cfg.year, cfg.machine, cfg.train_set)
    if missing:
        if checkpoint.action == "cached":
            check(checkpoint.path)  # a wrong file shows now, not later
        return ModelFetch(model, root, checkpoint=checkpoint, missing_data=missing)
    import_checkpoint(
        checkpoint.path,
        cfg,
        root,
        model.name,
        device=device,
        progress=progress,
        source={"published_model": model.name, "checkpoint_url": checkpoint.url},
        **calibration,
    )
    return ModelFetch(model, root, checkpoint=checkpoint, bundle=bundle, calibrated=True)


# ---------------------------------------------------------------- what is available
