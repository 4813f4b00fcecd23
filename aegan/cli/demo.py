"""`aegan demo`: the whole pipeline on synthetic data, on the CPU, in a few minutes."""

from __future__ import annotations

from pathlib import Path
from shlex import quote
from typing import Annotated

import typer

from aegan.cli.common import console, reports_errors


@reports_errors
def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the synthetic data (default: in the cache).",
            file_okay=False,
        ),
    ] = None,
    year: Annotated[
        str,
        typer.Option(
            "--year",
            "-y",
            help="DCASE edition of the data set's layout: 20 to 26 (24: first-shot).",
        ),
    ] = "22",
) -> None:
    """Write a synthetic DCASE 2022 fan data set, train a small model on it, test it.

    Shows every step of the real pipeline at a size a CPU handles in minutes:
    data, features, training with per-epoch validation, the 19 scores, DCASE
    files, and a comparison with the same model untrained.
    """
    from aegan import paths
    from aegan.cli.test_cmd import groups_table, scores_table
    from aegan.cli.train import TrainDisplay
    from aegan.dcase.facts import parse_year
    from aegan.dcase.metrics import OFFICIAL_FIGURE
    from aegan.demo import DemoResult, data_folder, demo_config, model_name, run_demo

    edition = parse_year(year)
    name = model_name(edition)
    folder = out or paths.demo_dir()
    cfg = demo_config(edition)
    console.print(
        f"[bold]aegan demo[/]: synthetic DCASE {edition} fan data in "
        f"{data_folder(folder, edition)}; a "
        f"{cfg.net.isize}x{cfg.net.isize} AEGAN-AD model, {cfg.train.epochs} epochs on the CPU.",
        highlight=False,
    )
    with TrainDisplay(cfg) as display:
        result = run_demo(folder, display.callbacks(), edition)
    evaluation = result.trained.evaluation
    assert evaluation is not None
    console.print(scores_table(evaluation, result.trained.chosen, f"{name}, dev test set"))
    console.print(groups_table(evaluation, result.trained.chosen))
    before, after = DemoResult.figure(result.untrained), DemoResult.figure(result.trained)
    console.print(
        f"[bold]Learning:[/] {result.trained.chosen} dev {OFFICIAL_FIGURE[edition]} {100 * before:.2f}% untrained -> "
        f"{100 * after:.2f}% after {result.training.epochs} epochs (last epoch; score fixed "
        "beforehand, no test labels used to select).",
        highlight=False,
    )
    files = {
        "data": result.data_root,
        "features": paths.machine_features_dir(edition, "fan"),
        "training run": f"{result.training.run_dir} (history.jsonl, curves.png, checkpoint)",
        "model": result.training.bundle,
        "results": f"{result.trained.folder} (results.json, scores.csv, DCASE submission files)",
        "untrained baseline": result.untrained.folder,
    }
    for label, where in files.items():
        console.print(f"  {label + ':':20s}{where}", highlight=False)
    console.print(
        f"Next: aegan score {quote(str(result.data_root / 'dev_data/fan/test'))} --model {name}\n"
        f"      aegan localize FILE --model {name};  aegan report",
        highlight=False,
    )
