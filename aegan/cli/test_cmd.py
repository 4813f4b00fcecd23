"""`aegan test`: all 19 scores of a model on a DCASE test set or an own labelled folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aegan.cli.common import (
    AllOption,
    DataDirOption,
    GpuOption,
    JsonOption,
    ModelOption,
    PrecisionOption,
    SchedulerOption,
    WorkersOption,
    YearOption,
    complete_machine,
    console,
    print_json,
    progress_bars,
    reports_errors,
)
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


def decisions_table(result: Assessment) -> Table:
    """Precision, recall and F1 of the decisions per section and domain (the 2024 evaluator's)."""
    kind = edition(result.detector.cfg.year).group_kind
    table = Table(
        title=f"Decisions ({result.chosen} > {result.detector.threshold():.4g}) per {kind} "
        "and domain",
        title_justify="left",
    )
    for header in (kind, "domain", "clips", "TP", "FP", "FN", "TN"):
        table.add_column(header, justify="left" if header in (kind, "domain") else "right")
    for header in ("precision", "recall", "F1"):
        table.add_column(header, justify="right")
    for item in result.decision_figures or ():
        counts = (item.true_positives, item.false_positives, item.false_negatives)
        table.add_row(
            item.group, item.domain, str(item.n_clips), *map(str, counts),
            str(item.true_negatives), *map(as_percent, (item.precision, item.recall, item.f1)),
        )  # fmt: skip
    return table


def render(result: Assessment, decisions: bool = False) -> None:
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
        if decisions:
            console.print(decisions_table(result))
        if det.provenance.chosen_on_test_labels:
            console.print(
                "[yellow]Note:[/] this model's epoch and score were selected on "
                + ("the dev test set" if det.provenance.data is None else "its test set")
                + " (the paper's protocol), so its figures there are optimistic."
            )
    console.print(
        f"{int(result.decisions.sum())} of {len(result.clips)} clips anomalous "
        f"({result.chosen} > {det.threshold():.4g})."
    )
    console.print(f"Results: {result.folder}")


TestSubjectArg = Annotated[
    str | None,
    typer.Argument(
        help="Machine type, e.g. fan, ToyCar (case-insensitive); with --data, the model name; "
        "leave it out with --all.",
        show_default=False,
        autocompletion=complete_machine,
    ),
]


@reports_errors
def test(
    machine: TestSubjectArg = None,
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
    decisions: Annotated[
        bool,
        typer.Option(
            "--decisions",
            help="Also show precision, recall and F1 of the decisions per section and domain.",
        ),
    ] = False,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
    json_out: JsonOption = False,
    every: AllOption = False,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Score a test set with a model: all 19 scores, DCASE figures and the results files.

    `aegan test fan --year 22` tests on the DCASE dev (or eval) test set;
    `aegan test NAME --data DIR` tests model NAME on your own labelled folder;
    `aegan test --all --year 22` tests every machine type's model, one task each
    (on a Dask cluster with --workers N or --scheduler ADDRESS).
    """
    from aegan.cli.sweep import wants_sweep
    from aegan.detector.detector import Detector
    from aegan.errors import UsageError

    if split not in ("dev", "eval"):
        raise UsageError(f"Unknown --split {split!r}.", "Use --split dev or --split eval.")
    if wants_sweep(every, workers, scheduler):
        if data is not None or ground_truth is not None or (every and model is not None):
            raise UsageError(
                "--all, --workers and --scheduler test DCASE machine types with their "
                "default models.",
                "Leave out --data, --ground-truth and (with --all) --model.",
            )
        return _test_sweep(machine, year, model, split, data_dir, out, every, workers,
                           scheduler, gpu, precision, json_out)  # fmt: skip
    if machine is None:
        raise UsageError("Name a machine type, or give --all.", "E.g. `aegan test fan --year 22`.")
    if data is None:
        from aegan.results.assess import assess_machine

        with progress_bars(transient=True) as progress:
            result = assess_machine(
                machine, year, model=model, subset=split, ground_truth=ground_truth,
                data_dir=data_dir, out_dir=out, device=gpu, precision=precision,
                progress=progress,
            )  # fmt: skip
    else:
        if model is not None or split != "dev" or ground_truth is not None:
            raise UsageError(
                "With --data, name the model first and leave out --model, --split and "
                "--ground-truth.",
                "E.g. `aegan test mymodel --data DIR` (DIR/test/normal/ and DIR/test/anomaly/).",
            )
        from aegan.owndata.folder import OwnData
        from aegan.results.assess import assess_folder

        own = OwnData.at(data, train=False)  # test/ is enough; a missing folder fails first
        detector = Detector.load(machine, device=gpu, precision=precision)
        with progress_bars(transient=True) as progress:
            result = assess_folder(detector, own, out_dir=out, progress=progress)
    if json_out:
        print_json({**result.to_dict(), "files": [str(p) for p in result.files]})
    else:
        render(result, decisions)


def _test_sweep(
    machine: str | None, year: str, model: str | None, split: str, data_dir: Path | None,
    out: Path | None, every: bool, workers: int | None, scheduler: str | None,
    gpu: str | None, precision: str, json_out: bool,
) -> None:  # fmt: skip
    """Each machine type's model on its test set, one task each."""
    from aegan.cli.score_fleet import worker_device_spec
    from aegan.cli.sweep import engine_of, run_and_show, sweep_subject
    from aegan.fleet.machines import test_tasks

    engine = engine_of(workers, scheduler)
    year_, machines, root = sweep_subject(year, machine, every, data_dir, split)
    tasks = test_tasks(
        year_, machines, root, model, split, worker_device_spec(gpu), precision,
        None if out is None else out.absolute(),
    )  # fmt: skip
    run_and_show(f"DCASE {year_} {split} test sets", "test", tasks, engine, json_out)
