"""`aegan test`: all 19 scores of a model on a DCASE test set or an own labelled folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aegan.cli.common import (
    DataDirOption,
    GpuOption,
    JsonOption,
    ModelOption,
    PrecisionOption,
    YearOption,
    complete_machine,
    console,
    print_json,
    progress_bars,
    reports_errors,
    year_and_machine,
)
from aegan.config.settings import data_root
from aegan.dcase.facts import edition

if TYPE_CHECKING:
    from collections.abc import Callable

    from aegan.dcase.evaluation import Evaluation
    from aegan.model.detector import Detector
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
        if result.data is None
        else f"model {det.name}, test set of {result.data}"
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
                "[yellow]Note:[/] this model's epoch and score were selected on "
                + ("the dev test set" if "data" not in det.provenance else "its test set")
                + " (the paper's protocol), so its figures there are optimistic."
            )
    console.print(
        f"{int(result.decisions.sum())} of {len(result.clips)} clips anomalous "
        f"({result.chosen} > {det.threshold():.4g})."
    )
    console.print(f"Results: {result.folder}")


TestSubjectArg = Annotated[
    str,
    typer.Argument(
        help="Machine type, e.g. fan, ToyCar (case-insensitive); with --data, the model name.",
        show_default=False,
        autocompletion=complete_machine,
    ),
]


@reports_errors
def test(
    machine: TestSubjectArg,
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
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Test model NAME on your own folder: DIR/test/normal/ and DIR/test/anomaly/.",
            file_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Results folder (default: in the cache).", file_okay=False
        ),
    ] = None,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
    json_out: JsonOption = False,
) -> None:
    """Score a test set with a model: all 19 scores, DCASE figures and the results files.

    `aegan test fan --year 22` tests on the DCASE dev (or eval) test set;
    `aegan test NAME --data DIR` tests model NAME on your own labelled folder.
    """
    from aegan.cli.devices import load_detector
    from aegan.errors import UsageError

    if split not in ("dev", "eval"):
        raise UsageError(f"Unknown --split {split!r}.", "Use --split dev or --split eval.")

    def load(name: str) -> Detector:
        return load_detector(name, gpu, precision)

    if data is None:
        result = _test_machine(machine, year, model, split, ground_truth, data_dir, out, load)
    else:
        if model is not None or split != "dev" or ground_truth is not None:
            raise UsageError(
                "With --data, name the model first and leave out --model, --split and "
                "--ground-truth.",
                "E.g. `aegan test mymodel --data DIR` (DIR/test/normal/ and DIR/test/anomaly/).",
            )
        result = _test_folder(machine, data, out, load)
    if json_out:
        print_json({**result.to_dict(), "files": [str(p) for p in result.files]})
    else:
        render(result)


def _test_machine(
    machine: str, year: str, model: str | None, split: str, ground_truth: Path | None,
    data_dir: Path | None, out: Path | None, load: Callable[[str], Detector],
) -> Assessment:  # fmt: skip
    """A model on a DCASE machine type's test set."""
    from aegan.dcase.clips import require_root
    from aegan.model.registry import default_model
    from aegan.results.assess import assess

    year_, machine_ = year_and_machine(year, machine)
    root = require_root(data_root(year_, data_dir), year_)
    detector = load(model or default_model(year_, machine_))
    detector.check_matches(year_, machine_)
    with progress_bars(transient=True) as progress:
        return assess(
            detector, root, split, ground_truth=ground_truth, out_dir=out, progress=progress
        )


def _test_folder(
    model: str, data: Path, out: Path | None, load: Callable[[str], Detector]
) -> Assessment:
    """A model on an own data set's labelled test folder."""
    from aegan.dcase.folders import OwnData
    from aegan.results.assess import assess_folder

    own = OwnData.at(data, train=False)
    detector = load(model)
    with progress_bars(transient=True) as progress:
        return assess_folder(detector, own, out_dir=out, progress=progress)
