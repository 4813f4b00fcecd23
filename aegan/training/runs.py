"""A training run's folder: checkpoint, per-epoch history, curves, config.

``runs_dir()/<name>/`` holds

- ``checkpoint.pt``: everything needed to continue exactly where the last
  complete epoch ended (nets, optimisers, RNG states, the best epoch so far,
  the history); rewritten atomically after every epoch, so an interrupted run
  always leaves the last complete epoch intact;
- ``history.jsonl``: one JSON record per epoch (losses, figures, timing);
- ``curves.png``: losses and the official figure per epoch;
- ``config.yaml``: the effective config.

The checkpoint is read with ``torch.load(weights_only=True)``: plain
containers and tensors only, never arbitrary pickled objects.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aegan import paths
from aegan.bundles.checkpoints import LOAD_ERRORS, load_refusal, load_weights_only
from aegan.bundles.registry import bundle_path, published
from aegan.config.keys import to_dict
from aegan.config.schema import Config, config_from_dict, config_yaml
from aegan.errors import AeganError, ModelError, UsageError, system_failure
from aegan.files import save_torch
from aegan.plots import TrainingCurves

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.jsonl"
CURVES = "curves.png"
CONFIG = "config.yaml"
CHECKPOINT_FORMAT = "aegan-train-checkpoint"
CHECKPOINT_VERSION = 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# ---------------------------------------------------------------- records


@dataclass
class EpochRecord:
    """What one epoch did; ``figures`` (official figure per score) when it was validated."""

    epoch: int  # 1-based
    losses: dict[str, float]
    seconds: float  # training only
    segments_per_s: float
    validation_seconds: float = 0.0
    figure_name: str | None = None  # "average" (2020) or "hmean" (2022)
    figures: dict[str, float] | None = None
    best_score: str | None = None  # this epoch's best score and its figure
    best_figure: float | None = None
    selected: bool = False  # this epoch became the best so far
    kept_epoch: int | None = None  # the best epoch so far (what ``paper`` selects), its score
    kept_score: str | None = None
    kept_figure: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["losses"] = {k: _json_number(v) for k, v in self.losses.items()}
        if self.figures is not None:
            data["figures"] = {k: _json_number(v) for k, v in self.figures.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochRecord:
        record = cls(**data)
        record.losses = {k: math.nan if v is None else v for k, v in record.losses.items()}
        if record.figures is not None:
            record.figures = {k: math.nan if v is None else v for k, v in record.figures.items()}
        return record


def _json_number(value: float) -> float | None:
    """JSON has no NaN or infinity: a diverged value is written as null (read back as NaN)."""
    return value if math.isfinite(value) else None


@dataclass
class Best:
    """The ``paper`` selection so far: the epoch with the highest official figure, its weights."""

    epoch: int
    score: str
    figure: float
    netG: dict[str, torch.Tensor] = field(repr=False)
    netD: dict[str, torch.Tensor] = field(repr=False)


@dataclass
class Checkpoint:
    config: Config
    epoch: int  # complete epochs
    state: dict[str, Any]  # Trainer.state_dict()
    history: list[EpochRecord]
    best: Best | None = None
    rng: dict[str, Any] | None = None
    data: str | None = None  # the folder trained on (None: a checkpoint from before it was kept)


def cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


# ---------------------------------------------------------------- RNG states


def rng_state(device: torch.device) -> dict[str, Any]:
    """Global RNG states (torch, CUDA when used, numpy, python) as checkpointable values."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }  # fmt: skip
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    saved = state["numpy"]
    np.random.set_state(
        ("MT19937", saved["keys"].numpy().astype(np.uint32), saved["pos"],
         saved["has_gauss"], saved["cached"])
    )  # fmt: skip
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# ---------------------------------------------------------------- names and folders


def default_name(cfg: Config, now: datetime | None = None, base: str | None = None) -> str:
    """``<machine><yy>-<yyyymmdd-hhmmss>``, e.g. fan22-20240131-174500.

    ``base`` replaces ``<machine><yy>`` (an own data folder's name), its characters
    outside NAME_PATTERN replaced by '-'.
    """
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    if base is None:
        return f"{cfg.machine}{cfg.short_year}-{stamp}"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._")[:80] or "model"
    return f"{cleaned}-{stamp}"


def check_name(name: str) -> None:
    """Refuse a model name that is empty, has characters a file name or shell would trip on, or
    is a published model's."""
    if not name.strip():
        raise UsageError(
            f"The model name is empty ({name!r}).",
            "Give --name NAME, or leave --name out for the default "
            "(<machine><yy>-<date>-<time>, or <data folder>-<date>-<time>).",
        )
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"Invalid model name {name!r}.",
            "Use letters, digits, '.', '_' and '-' (at most 100 characters), starting with a letter or digit.",
        )
    if published(name) is not None:
        raise UsageError(
            f"{name!r} is the name of a published model.", "Pick another --name for your own model."
        )


def run_dir(name: str) -> Path:
    return paths.runs_dir() / name


def name_taken(name: str) -> bool:
    return run_dir(name).exists() or bundle_path(name).exists()


def ensure_writable(folder: Path) -> None:
    """Fail before training, not after hours of it, when a folder cannot take files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with paths.atomic_path(folder / ".write-test") as probe:
            probe.write_bytes(b"")
        (folder / ".write-test").unlink()
    except OSError as exc:
        raise AeganError(
            f"Cannot write to {folder}: {exc.strerror or exc}.",
            "Fix its permissions or free space, or keep aegan's files elsewhere with --home or AEGAN_HOME.",
        ) from None


def start_fresh(folder: Path, cfg: Config) -> None:
    """An empty run folder holding the config (a forced re-run replaces the old one)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths.write_text_atomic(folder / CONFIG, config_yaml(cfg))


def latest_run(year: int, machine: str) -> str | None:
    """The run of this machine with the most recent checkpoint, if any."""
    root = paths.runs_dir()
    candidates = []
    for checkpoint in root.glob(f"*/{CHECKPOINT}") if root.is_dir() else ():
        try:
            cfg = read_checkpoint(checkpoint.parent).config
        except AeganError:
            continue
        if (cfg.year, cfg.machine) == (year, machine):
            candidates.append((checkpoint.stat().st_mtime, checkpoint.parent.name))
    return max(candidates)[1] if candidates else None


# ---------------------------------------------------------------- checkpoint files


def save_checkpoint(folder: Path, checkpoint: Checkpoint) -> Path:
    """Write the checkpoint atomically, then the history that mirrors it."""
    best = checkpoint.best
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": json.dumps(to_dict(checkpoint.config)),
        "epoch": checkpoint.epoch,
        "state": checkpoint.state,
        "history": json.dumps([r.to_dict() for r in checkpoint.history]),
        "best": None if best is None else {
            "epoch": best.epoch, "score": best.score, "figure": best.figure,
            "netG": best.netG, "netD": best.netD,
        },
        "rng": checkpoint.rng,
        "data": checkpoint.data,
    }  # fmt: skip
    target = folder / CHECKPOINT
    try:
        with paths.atomic_path(target) as tmp, open(tmp, "wb") as fh:
            save_torch(payload, fh)
        write_history(folder, checkpoint.history)
    except OSError as exc:  # a full or read-only drive: the last complete checkpoint stays
        raise system_failure(exc, f"write the training checkpoint {target}", folder) from None
    return target


def read_checkpoint(folder: Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    path = folder / CHECKPOINT
    if not path.is_file():
        raise UsageError(
            f"There is no checkpoint to resume from in {folder}.",
            "Start the run without --resume.",
        )
    hint = "Start the run again without --resume (add --force to replace it)."
    try:
        payload = load_weights_only(path, map_location, mmap=True)
    except LOAD_ERRORS as exc:
        raise ModelError(
            f"Cannot read the training checkpoint {path}: {load_refusal(exc)}.", hint
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(
            f"{path} is not an aegan training checkpoint (another program wrote it).", hint
        )
    try:
        best = payload["best"]
        return Checkpoint(
            config=config_from_dict(json.loads(payload["config"])),
            epoch=int(payload["epoch"]),
            state=payload["state"],
            history=[EpochRecord.from_dict(r) for r in json.loads(payload["history"])],
            best=None if best is None else Best(**best),
            rng=payload["rng"],
            data=payload.get("data"),
        )
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, AeganError) as exc:
        raise ModelError(f"Cannot read the training checkpoint {path}: {exc}.", hint) from None


LOSS_LABELS = {"loss_d": "critic", "loss_g": "generator", "recon": "reconstruction"}


def training_curves(history: list[EpochRecord], score: str, test_set: str) -> TrainingCurves:
    """The series of ``curves.png``: losses per epoch, figures (in %) per validated epoch."""
    validated = [r for r in history if r.figures]
    return TrainingCurves(
        epochs=[r.epoch for r in history],
        losses={
            label: [r.losses.get(key, math.nan) for r in history]
            for key, label in LOSS_LABELS.items()
        },
        test_set=test_set,
        figure_name=validated[0].figure_name if validated else None,
        validated_epochs=[r.epoch for r in validated],
        best=[math.nan if r.best_figure is None else 100 * r.best_figure for r in validated],
        score=score,
        chosen=[100 * r.figures[score] for r in validated],
    )


def write_history(folder: Path, history: list[EpochRecord]) -> Path:
    """history.jsonl, one record per line; rewritten whole so that it matches the checkpoint."""
    target = folder / HISTORY
    lines = "".join(json.dumps(record.to_dict()) + "\n" for record in history)
    paths.write_text_atomic(target, lines)
    return target
