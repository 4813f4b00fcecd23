"""The per-machine-type tasks of the sweeps: prepare features, test a model, train a model.

Each is a plain function of picklable arguments that returns the fields of
its sweep row, so it runs the same here or on any Dask worker. They call the
library exactly as the single-machine commands do; a run folder of training
is resumable as ever (``resume``: each machine type's latest run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aegan.config.schema import load_config
from aegan.dcase.facts import edition
from aegan.features.prepare import prepare_machine
from aegan.fleet.sweeps import MachineTask, use_worker_threads
from aegan.results.assess import assess_machine
from aegan.training.job import TrainCallbacks, machine_job
from aegan.training.loop import train


def machine_types(year: int, subset: str = "dev") -> tuple[str, ...]:
    """Every machine type of an edition (of its dev or eval set)."""
    return edition(year).machines_in(subset)


def prepare_one(
    year: int, machine: str, root: Path, config_file: Path | None, overrides: list[str]
) -> dict[str, Any]:
    """A machine type's feature sets into the cache: clips, frames, whether they were cached."""
    cfg = load_config(year, machine, config_file, overrides)
    prepared = prepare_machine(cfg, root)
    sets = list(prepared.values())
    return {
        "sets": " ".join(p.name for p in sets),
        "clips": sum(len(p.features.clips) for p in sets),
        "frames": sum(int(p.features.frames.sum()) for p in sets),
        "computed": sum(not p.cached for p in sets),
        "seconds": round(sum(p.seconds for p in sets), 1),
    }


def test_one(
    year: int, machine: str, root: Path, model: str | None, split: str, device: str | None,
    precision: str, out: Path | None,
) -> dict[str, Any]:  # fmt: skip
    """A machine type's model on its test set: the chosen score's official figure, the folder."""
    result = assess_machine(
        machine, year, model=model, subset=split, data_dir=root, device=device,
        precision=precision, out_dir=None if out is None else out / machine,
    )  # fmt: skip
    figure = None
    if result.evaluation is not None:
        figure = round(100 * result.evaluation.scores[result.chosen].official, 2)
    return {
        "model": result.detector.name,
        "clips": len(result.clips),
        "anomalous": int(result.decisions.sum()),
        "score": result.chosen,
        "figure %": figure,
        "results": str(result.folder),
    }


def train_one(
    year: int, machine: str, root: Path, config_file: Path | None, overrides: list[str],
    resume: bool, device: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Train a machine type's model (or continue its latest run) and save its bundle."""
    use_worker_threads()
    job = machine_job(
        machine, year, resume=resume, config_file=config_file, overrides=overrides, data_dir=root
    )
    result = train(job, device, TrainCallbacks())
    assert result is not None  # one process, rank 0
    return {
        "model": result.name,
        "epoch": f"{result.epoch}/{result.epochs}",
        "score": result.score,
        "figure %": None if result.figure is None else round(100 * result.figure, 2),
        "run folder": str(result.run_dir),
    }


def prepare_tasks(
    year: int, machines: list[str], root: Path, config_file: Path | None, overrides: list[str]
) -> list[MachineTask]:
    return [MachineTask(m, prepare_one, (year, m, root, config_file, overrides)) for m in machines]


def test_tasks(
    year: int, machines: list[str], root: Path, model: str | None, split: str,
    device: str | None, precision: str, out: Path | None,
) -> list[MachineTask]:  # fmt: skip
    args = (root, model, split, device, precision, out)
    return [MachineTask(m, test_one, (year, m, *args)) for m in machines]


def train_tasks(
    year: int, machines: list[str], root: Path, config_file: Path | None, overrides: list[str],
    resume: bool, device: str | None,
) -> list[MachineTask]:  # fmt: skip
    args = (root, config_file, overrides, resume, device)
    return [MachineTask(m, train_one, (year, m, *args)) for m in machines]
