"""The live display of `aegan train`: bars for epochs, batches and long steps, validation tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.progress import Progress, TaskID, TextColumn
from rich.table import Table

from aegan.cli.common import err_console, progress_columns

if TYPE_CHECKING:
    from aegan.config.schema import Config
    from aegan.training.job import TrainCallbacks
    from aegan.training.runs import EpochRecord
    from aegan.training.wgan import BatchReport

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
