"""`--all`, `--workers`, `--scheduler` of `aegan prepare`, `test` and `train`: one task per machine type."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aegan.cli.common import print_json, progress_bars
from aegan.cli.fleet_render import print_sweep
from aegan.config.settings import data_root
from aegan.dcase.clips import require_root
from aegan.dcase.facts import MachineType, parse_year
from aegan.errors import EXIT_RUNTIME, UsageError

if TYPE_CHECKING:
    from aegan.fleet.engine import Engine
    from aegan.fleet.sweeps import MachineTask


def wants_sweep(every: bool, workers: int | None, scheduler: str | None) -> bool:
    """Whether a command runs per machine type through the fleet (else: as it always did)."""
    return every or workers is not None or scheduler is not None


def sweep_subject(
    year: str, machine: str | None, every: bool, data_dir: Path | None, subset: str = "dev"
) -> tuple[int, list[str], Path]:
    """(year, machine types, data root): all of the edition's with --all, or the one named."""
    from aegan.fleet.machines import machine_types

    if every == (machine is not None):
        raise UsageError(
            "Name one machine type, or give --all for every machine type of the edition.",
            "E.g. `aegan test fan --year 22` or `aegan test --all --year 22`.",
        )
    year_ = parse_year(year)
    machines = (
        list(machine_types(year_, subset)) if every else [MachineType.parse(year_, machine).name]
    )
    return year_, machines, require_root(data_root(year_, data_dir), year_).absolute()


def engine_of(workers: int | None, scheduler: str | None) -> Engine:
    from aegan.fleet.engine import Engine

    return Engine.from_options(workers, scheduler)


def run_and_show(
    title: str, kind: str, tasks: list[MachineTask], engine: Engine, json_out: bool,
    resources: dict[str, float] | None = None,
) -> None:  # fmt: skip
    """Run the sweep, print its table (or JSON); exit 1 when a machine type failed."""
    from dataclasses import asdict

    from aegan.fleet.sweeps import run_sweep

    with progress_bars(transient=True) as progress:
        rows = run_sweep(tasks, engine, kind=kind, resources=resources, progress=progress)
    if json_out:
        print_json({"engine": engine.describe(), "machines": [asdict(r) for r in rows]})
    else:
        print_sweep(f"{title} on {engine.describe()}", rows)
    if any(row.error for row in rows):
        raise typer.Exit(EXIT_RUNTIME)
