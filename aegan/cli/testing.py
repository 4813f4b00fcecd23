"""`aegan test`: all 19 scores of a model on a DCASE test set, as tables and files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aegan.cli.common import (
    DataDirOption,
    GpuOption,
    JsonOption,
    MachineArg,
    ModelOption,
    YearOption,
    console,
    print_json,
    progress_bars,
    reports_errors,
    year_and_machine,
)
from aegan.config.settings import data_root
from aegan.dcase.facts import edition

if TYPE_CHECKING:
    from aegan.dcase.evaluation import Evaluation
    from aegan.results.assess import Assessment


def as_percent(value: float | None) -> str:
    from aegan.results.report import percent, percent_text

    return percent_text(percent(value))


def scores_table(evaluation: Evaluation, chosen: str, title: str) -> Table:
    """Every score's machine-type figures; the model's score and the best one marked."""
    from aegan.dcase.metrics import SUMMARY_COLUMNS

    table = Table(title=title, title_justify="left")
    table.add_column("score")
    for _, header in SUMMARY_COLUMNS[evaluation.year]:
        table.add_column(header, justify="right")
    table.add_column("")
    for name, figures in evaluation.scores.items():
        marks = [
            m for m, on in (("chosen", name == chosen), ("best", name == evaluation.best)) if on
        ]
        style = "bold" if name == chosen else None
        cells = [
            as_percent(figures.summary.get(key)) for key, _ in SUMMARY_COLUMNS[evaluation.year]
        ]
        table.add_row(name, *cells, ", ".join(marks), style=style)
    return table


def groups_table(evaluation: Evaluation, score: str) -> Table:
    from aegan.dcase.metrics import GROUP_COLUMNS

    kind = edition(evaluation.year).group_kind
    table = Table(title=f"{score} per {kind}", title_justify="left")
    table.add_column(kind)
    table.add_column("clips", justify="right")
    for _, header in GROUP_COLUMNS[evaluation.year]:
        table.add_column(header, justify="right")
    for group in evaluation.scores[score].groups:
        cells = [as_percent(getattr(group, key)) for key, _ in GROUP_COLUMNS[evaluation.year]]
        table.add_row(group.group, str(group.n_clips), *cells)
    return table


def render(result: Assessment) -> None:
    det = result.detector
    subject = (
        f"{det.cfg.machine} (DCASE {det.cfg.year}), model {det.name}, {result.subset} test set"
    )
    if result.evaluation is None:
        console.print(
            f"{subject}: {len(result.clips)} clips scored; no labels, so no figures "
            "(pass --ground-truth DIR to evaluate the eval set)."
        )
    else:
        console.print(scores_table(result.evaluation, result.chosen, subject))
        console.print(groups_table(result.evaluation, result.chosen))
        if det.provenance.get("selection") == "paper":
            console.print(
                "[yellow]Note:[/] this model's epoch and score were selected on the dev test "
                "set (the paper's protocol), so its dev figures are optimistic."
            )
    console.print(
        f"{int(result.decisions.sum())} of {len(result.clips)} clips anomalous "
        f"({result.chosen} > {det.threshold():.4g})."
    )
    console.print(f"Results: {result.folder}")


@reports_errors
def test(
    machine: MachineArg,
    year: YearOption = "22",
    model: ModelOption = None,
    split: Annotated[
        str,
        typer.Option("--split", help="Test set: dev, or eval (needs ground truth for figures)."),
    ] = "dev",
    ground_truth: Annotated[
        Path | None,
        typer.Option(
            "--ground-truth",
            help="Folder of the official evaluator's ground-truth files.",
            file_okay=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Results folder (default: in the cache).", file_okay=False
        ),
    ] = None,
    gpu: GpuOption = None,
    json_out: JsonOption = False,
) -> None:
    """Score a machine's test set with a model: all 19 scores, DCASE figures and submission files."""
    from aegan.cli.devices import parse_device
    from aegan.config.settings import load_settings
    from aegan.dcase.clips import require_root
    from aegan.errors import UsageError
    from aegan.model.detector import Detector
    from aegan.model.registry import default_model
    from aegan.results.assess import assess

    year_, machine_ = year_and_machine(year, machine)
    if split not in ("dev", "eval"):
        raise UsageError(f"Unknown --split {split!r}.", "Use --split dev or --split eval.")
    device = parse_device(gpu, load_settings().device)
    root = require_root(data_root(year_, data_dir), year_)
    detector = Detector.load(model or default_model(year_, machine_)).to(device)
    detector.check_matches(year_, machine_)
    with progress_bars(transient=True) as progress:
        result = assess(
            detector, root, split, ground_truth=ground_truth, out_dir=out, progress=progress
        )
    if json_out:
        print_json({**result.to_dict(), "files": [str(p) for p in result.files]})
    else:
        render(result)
