"""`aegan train`: train a machine type's model, or one on an own data folder; save the bundle."""

from __future__ import annotations

from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Annotated

import typer

from aegan.cli.common import (
    ConfigOption,
    DataDirOption,
    SetOption,
    YearOption,
    complete_machine,
    complete_model,
    console,
    err_console,
    load_config,
    reports_errors,
    year_and_machine,
)
from aegan.cli.train_display import TrainDisplay
from aegan.config.settings import data_root

if TYPE_CHECKING:
    from aegan.config.schema import Config
    from aegan.dcase.folders import OwnData
    from aegan.training.job import TrainResult

OptionalMachineArg = Annotated[
    str | None,
    typer.Argument(
        help="Machine type, e.g. fan, ToyCar (case-insensitive); leave it out with --data.",
        show_default=False,
        autocompletion=complete_machine,
    ),
]


def _overrides(
    set_: list[str] | None,
    epochs: int | None,
    seed: int | None,
    select: str | None,
    precision: str | None,
    compile_: bool | None,
) -> list[str]:
    """The options that are config keys, as --set texts (checked by the config layer)."""
    options = {
        "train.epochs": epochs, "train.seed": seed, "train.select": select,
        "train.precision": precision, "train.compile": compile_,
    }  # fmt: skip
    return [*(set_ or []), *(f"{k}={v}" for k, v in options.items() if v is not None)]


def _resume_command(
    cfg: Config, name: str, gpu: str | None, data_dir: Path | None, own: OwnData | None
) -> str:
    subject = ["--data", quote(str(own.folder))] if own else [cfg.machine, "--year", cfg.short_year]
    parts = ["aegan train", *subject, "--name", name, "--resume"]
    if gpu is not None:
        parts += ["--gpu", gpu]
    if data_dir is not None and own is None:
        parts += ["--data-dir", quote(str(data_dir))]
    return " ".join(parts)


def _test_set(own: OwnData | None) -> str:
    """What the labelled test set is called: DCASE's dev test set, or an own folder's test."""
    return "dev test" if own is None else "test"


def _print_result(result: TrainResult, cfg: Config, own: OwnData | None) -> None:
    test_set = _test_set(own)
    figure = (
        f", {test_set} {result.figure_name} {100 * result.figure:.2f}%"
        if result.figure is not None
        else ""
    )
    how = (
        f"the best epoch and score on the labelled {test_set} set (the paper's protocol)"
        if result.uses_test_labels
        else "the last epoch and the recipe's score (no test labels used)"
    )
    console.print(f"[bold green]Model saved:[/] {result.bundle}", highlight=False)
    console.print(
        f"  name {result.name}: epoch {result.epoch} of {result.epochs}, score {result.score}{figure}",
        highlight=False,
    )
    console.print(f"  selected: {how}", highlight=False)
    console.print(f"  run folder: {result.run_dir} (history.jsonl, curves.png)", highlight=False)
    test = (
        f"aegan test {cfg.machine} --year {cfg.short_year} --model {result.name}"
        if own is None
        else f"aegan test {result.name} --data {quote(str(own.folder))}"
    )
    console.print(
        f"Use it: {test}\n        aegan score FILE... --model {result.name}", highlight=False
    )


@reports_errors
def train(
    machine: OptionalMachineArg = None,
    year: YearOption = "22",
    gpu: Annotated[
        str | None,
        typer.Option(
            "--gpu",
            "-g",
            help="GPU index (0), several (0,1: one process each) or cpu. Default: first GPU.",
        ),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Epochs (recipe: 60 in 2022, 50 in 2020).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 783).")] = None,
    select: Annotated[
        str | None,
        typer.Option(
            help="paper: the epoch and score with the best dev test figure (uses test labels, "
            "as the original); last: the last epoch and the recipe's score."
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    name: Annotated[
        str | None,
        typer.Option(
            help="Model name (default <machine><yy>-<date>-<time>, or <data folder>-<date>-<time>)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the named run (default: this machine's latest)."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a run or model of the same name.")
    ] = False,
    data_dir: DataDirOption = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Your own data folder instead of a machine type: DIR/train/ (normal recordings, "
            "any names) and optionally DIR/test/normal/ and DIR/test/anomaly/.",
            file_okay=False,
        ),
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            help="With --data: the network and feature settings of a published model (fan22) "
            "or a local one. Default: --init's model's, else the DCASE 2022 defaults.",
            autocompletion=complete_model,
        ),
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(
            help="Start from this model's weights (published or local; same network settings).",
            autocompletion=complete_model,
        ),
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="fp32 or bf16 (autocast; CUDA only).")
    ] = None,
    compile_: Annotated[
        bool | None,
        typer.Option("--compile/--no-compile", help="torch.compile the networks (CUDA only)."),
    ] = None,
) -> None:
    """Train a machine type's model, or one on your own data (--data DIR), and save it.

    Every epoch is validated on the labelled test set (DCASE dev test, or
    DIR/test); checkpoints go to the run folder after every epoch: Ctrl-C and
    --resume continue to the same result.
    """
    from aegan.cli.devices import parse_devices
    from aegan.config import settings as config_mod
    from aegan.training import distributed, runs
    from aegan.training.job import TrainingInterrupted, TrainJob
    from aegan.training.loop import train as train_model

    overrides = _overrides(set_, epochs, seed, select, precision, compile_)
    if name is not None:  # an empty --name is a mistake, not a request for the default
        runs.check_name(name)
    if data is None:
        cfg, root, name = _machine_run(
            machine, year, recipe, name, resume, config, overrides, data_dir
        )
        own = None
    else:
        cfg, own, name = _own_run(machine, data, recipe, init, name, resume, config, overrides)
        root = own
    devices = parse_devices(gpu, config_mod.load_settings().device)
    launched = distributed.torchrun_rank()
    quiet = launched is not None and launched[0] != 0
    job = TrainJob(cfg, root, name, resume=resume, force=force, init=init)
    try:
        with TrainDisplay(cfg, quiet, _test_set(own)) as display:
            result = train_model(job, devices, display.callbacks())
    except TrainingInterrupted as exc:
        if not quiet:
            err_console.print(f"[yellow]Interrupted:[/] {exc.message}", highlight=False)
            command = _resume_command(cfg, name, gpu, data_dir, own)
            err_console.print(f"Resume with: {command}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    if result is not None:
        _print_result(result, cfg, own)


def _machine_run(
    machine: str | None, year: str, recipe: str | None, name: str | None, resume: bool,
    config: Path | None, overrides: list[str], data_dir: Path | None,
) -> tuple[Config, Path, str]:  # fmt: skip
    """A DCASE machine type's config, data root and run name."""
    from aegan.dcase.clips import require_root
    from aegan.errors import UsageError
    from aegan.training import runs
    from aegan.training.job import resumed_run

    if machine is None:
        raise UsageError(
            "Name a machine type or a data folder.",
            "E.g. `aegan train fan --year 22`, or `aegan train --data DIR --name NAME`.",
        )
    if recipe is not None:
        raise UsageError(
            "--recipe is for your own data (--data DIR); a machine type trains with its own recipe.",
            "Change its settings with --config FILE or --set KEY=VALUE (`aegan config show`).",
        )
    if resume:
        cfg, name = resumed_run(*year_and_machine(year, machine), name, config, overrides)
    else:
        cfg = load_config(year, machine, config, overrides)
        name = name or runs.default_name(cfg)
    return cfg, require_root(data_root(cfg.year, data_dir), cfg.year), name


def _own_run(
    machine: str | None, data: Path, recipe: str | None, init: str | None, name: str | None,
    resume: bool, config: Path | None, overrides: list[str],
) -> tuple[Config, OwnData, str]:  # fmt: skip
    """An own data folder's config and run name (aegan.training.owndata)."""
    from aegan.dcase.folders import OwnData
    from aegan.errors import UsageError
    from aegan.training import runs
    from aegan.training.job import resumed_own_run
    from aegan.training.owndata import own_config

    if machine is not None:
        raise UsageError(
            f"Give a machine type ({machine}) or --data DIR, not both.",
            "Train on your own folder with `aegan train --data DIR --name NAME`.",
        )
    own = OwnData.at(data)
    if resume:
        cfg, name = resumed_own_run(name, config, overrides)
    else:
        cfg = own_config(own, recipe, init, config, overrides)
        name = name or runs.default_name(cfg, base=own.name)
    return cfg, own, name
