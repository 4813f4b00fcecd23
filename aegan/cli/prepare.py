"""`aegan prepare`: log-mel features of a machine into the cache."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aegan.byte_sizes import format_bytes
from aegan.cli.common import (
    AllOption,
    ConfigOption,
    DataDirOption,
    JsonOption,
    SchedulerOption,
    SetOption,
    WorkersOption,
    YearOption,
    complete_machine,
    console,
    load_config,
    print_json,
    progress_bars,
    reports_errors,
)
from aegan.config.settings import data_root
from aegan.dcase.clips import require_root
from aegan.dcase.facts import edition

if TYPE_CHECKING:
    from aegan.features.prepare import PreparedSet


def _describe(prepared: PreparedSet) -> dict:
    from aegan.features.cache import cache_size

    clips = prepared.features.clips
    frames = prepared.features.frames
    year = clips[0].year
    return {
        "set": prepared.name,
        "clips": len(clips),
        "groups": sorted({c.group for c in clips}),
        "group_kind": edition(year).group_kind,
        "domains": dict(Counter(c.domain for c in clips if c.domain)),
        "labels": dict(Counter(c.label_name for c in clips)),
        "frames": int(frames.sum()),
        "frames_per_clip": [int(frames.min()), int(frames.max())],
        "cache_bytes": cache_size(prepared.features),
        "cache_file": str(prepared.features.path),
        "cached": prepared.cached,
        "seconds": round(prepared.seconds, 3),
    }


def _summary_table(title: str, rows: list[dict]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("set")
    table.add_column("clips", justify="right")
    table.add_column(rows[0]["group_kind"] + "s" if rows else "groups")
    table.add_column("src/tgt", justify="right")
    table.add_column("norm/anom", justify="right")
    table.add_column("frames", justify="right")
    table.add_column("cache", justify="right")
    table.add_column("time", justify="right")
    for row in rows:
        domains = row["domains"]
        domain_text = f"{domains.get('source', 0)}/{domains.get('target', 0)}" if domains else "-"
        labels = row["labels"]
        label_text = (
            f"{labels.get('normal', 0)}/{labels.get('anomaly', 0)}"
            if "unknown" not in labels
            else "unlabelled"
        )
        time_text = "cached" if row["cached"] else f"{row['seconds']:.1f} s"
        table.add_row(
            row["set"], str(row["clips"]), " ".join(row["groups"]), domain_text, label_text,
            f"{row['frames']:,}", format_bytes(row["cache_bytes"]), time_text,
        )  # fmt: skip
    return table


OptionalMachineArg = Annotated[
    str | None,
    typer.Argument(
        help="Machine type, e.g. fan, ToyCar (case-insensitive); leave it out with --all.",
        show_default=False,
        autocompletion=complete_machine,
    ),
]


@reports_errors
def prepare(
    machine: OptionalMachineArg = None,
    year: YearOption = "22",
    data_dir: DataDirOption = None,
    train_set: Annotated[
        str | None,
        typer.Option(
            help="Which training clips to prepare: dev (dev_data train), eval (eval_data train) "
            "or deval (both). Default: the recipe's train_set."
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    json_out: JsonOption = False,
    every: AllOption = False,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Compute log-mel features of a machine's training and test sets into the cache.

    A second run finds the cache and returns at once; a changed file or feature
    setting recomputes. Features of other settings stay cached until the cache
    outgrows [bold]cache.features_max_gb[/] (least recently used go first).
    """
    overrides = list(set_ or [])
    if train_set is not None:
        overrides.append(f"train_set={train_set}")
    from aegan.cli.sweep import engine_of, run_and_show, sweep_subject, wants_sweep
    from aegan.errors import UsageError
    from aegan.features.prepare import prepare_machine

    if wants_sweep(every, workers, scheduler):
        from aegan.fleet.machines import prepare_tasks

        engine = engine_of(workers, scheduler)
        year_, machines, root = sweep_subject(year, machine, every, data_dir)
        tasks = prepare_tasks(year_, machines, root, config, overrides)
        return run_and_show(f"DCASE {year_} features", "prepare", tasks, engine, json_out)
    if machine is None:
        raise UsageError(
            "Name a machine type, or give --all.", "E.g. `aegan prepare fan --year 22`."
        )
    cfg = load_config(year, machine, config, overrides)
    root = require_root(data_root(cfg.year, data_dir), cfg.year)
    with progress_bars(transient=True) as progress:
        prepared = prepare_machine(cfg, root, progress)
    rows = [_describe(p) for p in prepared.values()]
    if json_out:
        print_json({"year": cfg.year, "machine": cfg.machine, "root": str(root), "sets": rows})
        return
    console.print(_summary_table(f"{cfg.machine} (DCASE {cfg.year}) features, {root}", rows))
    folder = next(iter(prepared.values())).features.path.parent
    console.print(f"Cache: {folder}")
