"""`aegan train`: train a machine type's model, or one on an own data folder; save the bundle.

The command reads its options and calls ``aegan.training``; ``TrainDisplay``
below is its live display: bars for epochs, batches and long steps, and a
validation table after each epoch.
"""

from __future__ import annotations

import math
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, TaskID, TextColumn
from rich.table import Table

from aegan.cli.common import (
    AllOption,
    ConfigOption,
    DataDirOption,
    SchedulerOption,
    SetOption,
    WorkersOption,
    YearOption,
    complete_machine,
    complete_model,
    console,
    err_console,
    progress_columns,
    reports_errors,
)

if TYPE_CHECKING:
    from aegan.config.schema import Config
    from aegan.owndata.folder import OwnData
    from aegan.training.job import TrainCallbacks, TrainJob, TrainResult
    from aegan.training.runs import EpochRecord
    from aegan.training.wgan import BatchReport

OptionalMachineArg = Annotated[
    str | None,
    typer.Argument(
        help="Machine type, e.g. fan, ToyCar (case-insensitive); leave it out with --data or --all.",
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


def _print_result(result: TrainResult, job: TrainJob) -> None:
    test_set = job.test_set
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
    cfg, own = job.cfg, job.own
    test = (
        f"aegan test {cfg.machine} --year {cfg.short_year} --model {result.name}"
        if own is None
        else f"aegan test {result.name} --data {quote(str(own.folder))}"
    )
    console.print(
        f"Use it: {test}\n        aegan score FILE... --model {result.name}", highlight=False
    )


TOP_SCORES = 3
"""Scores shown in the per-epoch validation table (plus the recipe's)."""


class TrainDisplay:
    """Bars for epochs, batches and long steps; a validation table after each epoch."""

    def __init__(self, cfg: Config, quiet: bool = False, test_set: str = "dev test") -> None:
        self.cfg = cfg
        self.quiet = quiet
        self.test_set = test_set  # what the validation scores: "dev test", or an own test set
        self.bars = Progress(
            *progress_columns(),
            TextColumn("{task.fields[info]}"),
            console=err_console,
            disable=quiet,
        )
        self._epochs: TaskID | None = None
        self._batches: TaskID | None = None
        self._steps: dict[str, TaskID] = {}

    def __enter__(self) -> TrainDisplay:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def callbacks(self) -> TrainCallbacks:
        from aegan.training.loop import TrainCallbacks

        return TrainCallbacks(
            progress=self.progress, on_batch=self.batch, on_epoch=self.epoch, on_note=self.note
        )

    def progress(self, task: str, done: float, total: float | None) -> None:
        """A bar per long step (features, validation, calibration), gone when it is done."""
        if task not in self._steps:
            self._steps[task] = self.bars.add_task(task, total=total, info="")
        self.bars.update(self._steps[task], completed=done, total=total)
        if total is not None and done >= total:
            self.bars.remove_task(self._steps.pop(task))

    def batch(self, report: BatchReport) -> None:
        epochs = self.cfg.train.epochs
        if self._epochs is None:
            self._epochs = self.bars.add_task(
                "epochs", total=epochs, completed=report.epoch - 1, info=""
            )
        if self._batches is None:
            self._batches = self.bars.add_task("", total=report.batches, info="")
        losses = report.losses
        info = (
            f"D {losses['loss_d']:.3f}  G {losses['loss_g']:.4f}  recon {losses['recon']:.4f}  "
            f"{report.segments_per_s:,.0f} seg/s"
        )
        self.bars.update(
            self._batches,
            description=f"epoch {report.epoch}/{epochs}",
            completed=report.batch,
            total=report.batches,
            info=info,
        )

    def epoch(self, record: EpochRecord) -> None:
        if self._epochs is not None:
            self.bars.update(self._epochs, completed=record.epoch)
        if self.quiet:
            return
        losses = record.losses
        self.bars.console.print(
            f"[bold]epoch {record.epoch}/{self.cfg.train.epochs}[/]  D {losses['loss_d']:.4f}  "
            f"G {losses['loss_g']:.4f}  recon {losses['recon']:.4f}  {record.seconds:.1f} s  "
            f"{record.segments_per_s:,.0f} seg/s"
            + (f"  validation {record.validation_seconds:.1f} s" if record.figures else ""),
            highlight=False,
        )
        if record.figures:
            self.bars.console.print(self._validation_table(record))

    def _validation_table(self, record: EpochRecord) -> Table:
        recipe = self.cfg.detect.score
        ranked = sorted(
            (name for name, v in record.figures.items() if not math.isnan(v)),
            key=lambda name: -record.figures[name],
        )
        shown = list(dict.fromkeys([*ranked[:TOP_SCORES], recipe]))
        kept = (
            f"epoch {record.kept_epoch}, {record.kept_score} {100 * record.kept_figure:.2f}"
            if record.kept_figure is not None
            else "none yet"
        )
        caption = (
            f"kept: {kept}"
            if self.cfg.train.select == "paper"
            else f"best so far: {kept} (not used: --select last keeps the last epoch)"
        )
        table = Table(
            title=f"{self.test_set} {record.figure_name}, epoch {record.epoch}",
            caption=caption,
            title_justify="left",
            caption_justify="left",
        )
        table.add_column("score")
        table.add_column(f"{record.figure_name} (%)", justify="right")
        table.add_column("")
        for name in shown:
            value = record.figures[name]
            marks = [
                m
                for m, on in (("best", name == record.best_score), ("recipe", name == recipe))
                if on
            ]
            table.add_row(
                name, "-" if math.isnan(value) else f"{100 * value:.2f}", ", ".join(marks)
            )
        return table

    def note(self, text: str) -> None:
        if not self.quiet:
            self.bars.console.print(f"[yellow]Note:[/] {text}", highlight=False)


@reports_errors
def train(
    machine: OptionalMachineArg = None,
    year: YearOption = "22",
    gpu: Annotated[
        str | None,
        typer.Option(
            "--gpu",
            "-g",
            help="GPU index (0), several (0,1: one process each) or cpu. "
            "Default: the device setting (auto: the first GPU if any).",
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
    every: AllOption = False,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Train a machine type's model, or one on your own data (--data DIR), and save it.

    Every epoch is validated on the labelled test set (DCASE dev test, or
    DIR/test); checkpoints go to the run folder after every epoch: Ctrl-C and
    --resume continue to the same result. `aegan train --all --year 22` trains
    every machine type, one task each: one after another here, or on a Dask
    cluster (--scheduler ADDRESS) whose workers started with `--resources GPU=1`
    take one task each at a time.
    """
    from aegan.cli.sweep import wants_sweep
    from aegan.errors import UsageError
    from aegan.model.devices import resolve_devices
    from aegan.training import distributed, runs
    from aegan.training.job import TrainingInterrupted, machine_job, own_job
    from aegan.training.loop import train as train_model

    overrides = _overrides(set_, epochs, seed, select, precision, compile_)
    if wants_sweep(every, workers, scheduler):
        if data is not None or name is not None or recipe is not None or init is not None:
            raise UsageError(
                "--all, --workers and --scheduler train DCASE machine types under default names.",
                "Leave out --data, --name, --recipe and --init.",
            )
        return _train_sweep(machine, year, every, data_dir, config, overrides, resume, gpu,
                            workers, scheduler)  # fmt: skip
    if name is not None:  # an empty --name is a mistake, not a request for the default
        runs.check_name(name)
    if data is None:
        if machine is None:
            raise UsageError(
                "Name a machine type or a data folder.",
                "E.g. `aegan train fan --year 22`, or `aegan train --data DIR --name NAME`.",
            )
        if recipe is not None:
            raise UsageError(
                "--recipe is for your own data (--data DIR); a machine type trains with its "
                "own recipe.",
                "Change its settings with --config FILE or --set KEY=VALUE (`aegan config show`).",
            )
        job = machine_job(
            machine, year, name=name, resume=resume, force=force, config_file=config,
            overrides=overrides, data_dir=data_dir,
        )  # fmt: skip
    else:
        if machine is not None:
            raise UsageError(
                f"Give a machine type ({machine}) or --data DIR, not both.",
                "Train on your own folder with `aegan train --data DIR --name NAME`.",
            )
        job = own_job(
            data, recipe=recipe, init=init, name=name, resume=resume, force=force,
            config_file=config, overrides=overrides,
        )  # fmt: skip
    devices = resolve_devices(gpu)
    launched = distributed.torchrun_rank()
    quiet = launched is not None and launched[0] != 0
    try:
        with TrainDisplay(job.cfg, quiet, job.test_set) as display:
            result = train_model(job, devices, display.callbacks())
    except TrainingInterrupted as exc:
        if not quiet:
            err_console.print(f"[yellow]Interrupted:[/] {exc.message}", highlight=False)
            command = _resume_command(job.cfg, job.name, gpu, data_dir, job.own)
            err_console.print(f"Resume with: {command}", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    if result is not None:
        _print_result(result, job)


def _train_sweep(
    machine: str | None, year: str, every: bool, data_dir: Path | None, config: Path | None,
    overrides: list[str], resume: bool, gpu: str | None, workers: int | None,
    scheduler: str | None,
) -> None:  # fmt: skip
    """Each machine type's training as one task holding one GPU slot; a table at the end."""
    from aegan.cli.score_fleet import worker_device_spec
    from aegan.cli.sweep import engine_of, run_and_show, sweep_subject
    from aegan.fleet.machines import train_tasks
    from aegan.fleet.sweeps import GPU

    engine = engine_of(workers, scheduler)
    year_, machines, root = sweep_subject(year, machine, every, data_dir)
    config = None if config is None else config.absolute()
    tasks = train_tasks(year_, machines, root, config, overrides, resume, worker_device_spec(gpu))
    run_and_show(f"DCASE {year_} training", "train", tasks, engine, False, resources={GPU: 1})
