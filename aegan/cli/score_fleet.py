"""`aegan score --out FOLDER`: many files into part files, here or on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aegan.cli.common import print_json, progress_bars
from aegan.cli.fleet_render import print_fleet_run
from aegan.errors import UsageError

if TYPE_CHECKING:
    from aegan.fleet.chunks import ScoreSettings

EXIT_UNREADABLE = 1
"""`aegan score`'s exit code when some file could not be read (the others are scored)."""
EXIT_ANOMALY = 3
"""`aegan score --fail-on-anomaly`'s exit code when any file or window is anomalous."""


def worker_device_spec(gpu: str | None) -> str | None:
    """--gpu for the workers, checked here in the one device grammar (None: each worker's
    ``device`` setting); a worker uses one device, so a list of GPUs is refused."""
    from aegan.config.device_spec import DEVICE_WORDS, parse_device_spec

    if gpu is None:
        return None
    try:
        spec = parse_device_spec(gpu)
    except ValueError:
        raise UsageError(f"Cannot read --gpu {gpu}: a device is {DEVICE_WORDS}.") from None
    if isinstance(spec, tuple) and len(spec) > 1:
        raise UsageError(
            f"--gpu {gpu} names several GPUs; each worker uses one.",
            "Start one worker per GPU (`dask worker ... --resources GPU=1`) and leave out --gpu.",
        )
    return gpu


def score_many(
    inputs: list[str], model: str | None, manifest: Path | None, out: Path | None,
    out_format: str, chunk_files: int, workers: int | None, scheduler: str | None,
    settings: ScoreSettings, *, json_out: bool, csv_out: bool, fail_on_anomaly: bool,
) -> None:  # fmt: skip
    """Score into --out's part files and print the summary; exit codes as `aegan score`."""
    from dataclasses import replace

    from aegan.fleet.engine import Engine, require_extra

    require_extra("pyarrow")
    from aegan.fleet.batch import score_fleet
    from aegan.fleet.inputs import gather_entries
    from aegan.model.precision import parse_precision

    if out is None:
        raise UsageError(
            "--manifest, --workers and --scheduler write their rows to part files.",
            "Add --out FOLDER (a new folder, or the one of a run to resume).",
        )
    if csv_out:
        raise UsageError("--csv prints one run's rows; with --out use --out-format csv.")
    parse_precision(settings.precision)  # a wrong name fails here, not on every worker
    engine = Engine.from_options(workers, scheduler)
    entries = gather_entries(inputs, model, manifest)
    settings = replace(settings, device=worker_device_spec(settings.device))
    with progress_bars(transient=True) as progress:
        run = score_fleet(
            entries, out, settings, engine, files_per_chunk=chunk_files, fmt=out_format,
            progress=progress,
        )  # fmt: skip
    if json_out:
        print_json(run.to_dict())
    else:
        print_fleet_run(run)
    if fail_on_anomaly and run.totals.anomalous_files:
        raise typer.Exit(EXIT_ANOMALY)
    if run.totals.error_rows:
        raise typer.Exit(EXIT_UNREADABLE)
