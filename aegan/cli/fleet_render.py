"""What the fleet commands print: the summary of a scoring run, the table of a sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from aegan.cli.common import console

if TYPE_CHECKING:
    from aegan.fleet.batch import FleetRun
    from aegan.fleet.sweeps import SweepRow


def print_fleet_run(run: FleetRun) -> None:
    """Files, hours of audio, anomalies, errors, and this run's throughput."""
    t = run.totals
    table = Table(title=f"Scored into {run.out} on {run.engine}", title_justify="left")
    for column in ("files", "hours of audio", "windows", "anomalous files", "unreadable files"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{t.files:,}", f"{t.audio_hours:,.3f}", f"{t.windows:,}", f"{t.anomalous_files:,}",
        f"{t.unreadable_files:,}",
    )  # fmt: skip
    console.print(table)
    resumed = f"; {run.skipped} found from an earlier run" if run.skipped else ""
    console.print(
        f"{run.written} of {len(run.parts)} parts written in {run.seconds:.1f} s{resumed}: "
        f"{run.files_per_hour:,.0f} files/hour, {run.real_time_factor:,.1f} x real time.",
        highlight=False,
    )


def print_sweep(title: str, rows: list[SweepRow]) -> None:
    """One line per machine type: what its task returned, or why it failed."""
    keys = list(dict.fromkeys(k for row in rows for k in row.fields))
    table = Table(title=title, title_justify="left")
    table.add_column("machine")
    for key in keys:
        table.add_column(key, overflow="fold")
    table.add_column("error", overflow="fold")
    for row in rows:
        cells = ["-" if row.fields.get(k) is None else str(row.fields[k]) for k in keys]
        error = f"[red]{row.error}[/]" if row.error else ""
        table.add_row(row.machine, *cells, error)
    console.print(table)
    failed = sum(row.error is not None for row in rows)
    console.print(f"{len(rows) - failed} of {len(rows)} machine types done.", highlight=False)
