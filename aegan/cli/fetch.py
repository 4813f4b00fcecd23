"""`aegan fetch`: published models (calibrated into bundles) and the DCASE data.

The options are read here and the work is one call, ``aegan.hub.fetch.fetch``;
the end of this module renders what it did.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aegan.byte_sizes import format_bytes
from aegan.cli.common import (
    ConfigOption,
    DataDirOption,
    GpuOption,
    JsonOption,
    PrecisionOption,
    SetOption,
    complete_model,
    console,
    err_console,
    print_json,
    progress_bars,
    reports_errors,
)
from aegan.dcase.facts import short_year
from aegan.dcase.ground_truth import ground_truth_folder

if TYPE_CHECKING:
    from aegan.calibration.passes import CalibrationEstimate
    from aegan.hub.availability import Availability
    from aegan.hub.fetch import ModelFetch, Target, TargetFetch
    from aegan.hub.zenodo import FetchSummary


def parse_threshold_clips(text: str | None) -> int | None:
    """--threshold-clips as given: a number, ``all`` (None: every clip), or the default."""
    from aegan.calibration.threshold_clips import DEFAULT_THRESHOLD_CLIPS
    from aegan.errors import UsageError

    if text is None:
        return DEFAULT_THRESHOLD_CLIPS
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--threshold-clips takes a number or 'all', not {text!r}.") from None


def announce_calibration(estimate: CalibrationEstimate) -> None:
    """Say before a long calibration how long it will take, and where a GPU is idle, so."""
    import torch

    idle_gpu = estimate.device == "cpu" and torch.cuda.is_available()
    err_console.print(
        f"Calibrating on {estimate.clips} training clips ({estimate.threshold_clips} for the "
        f"thresholds): {estimate.describe()}."
        + (" This machine has a GPU: add --gpu 0 to use it." if idle_gpu else ""),
        highlight=False,
    )


FromOption = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="Import a hand-downloaded checkpoint instead of downloading it (one model).",
        dir_okay=False,
    ),
]
RemotePathOption = Annotated[
    str | None,
    typer.Option("--remote-path", help="The checkpoint's path in the share, if not found by name."),
]
DataFlag = Annotated[
    bool, typer.Option("--data", help="Also download the DCASE data of these machines.")
]
SplitOption = Annotated[
    str, typer.Option("--split", help="Which data --data downloads: dev, eval or all.")
]
FetchYearOption = Annotated[
    str | None,
    typer.Option(
        "--year",
        "-y",
        help="DCASE edition (20 to 26) of machine types given with --data (default 22), "
        "or of what --list shows.",
    ),
]
ForceFlag = Annotated[
    bool, typer.Option("--force", help="Download the checkpoint again and recalibrate.")
]
ThresholdClipsOption = Annotated[
    str | None,
    typer.Option(
        "--threshold-clips",
        metavar="N|all",
        help="Training clips scored fully to fit the thresholds (stratified; default 24, or all).",
    ),
]
ListFlag = Annotated[
    bool, typer.Option("--list", help="List the published models and DCASE archives.")
]


@reports_errors
def fetch(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Published models (fan22, ToyCar20; see `aegan models`); with --data also "
            "machine types (fan).",
            show_default=False,
            autocompletion=complete_model,
        ),
    ] = None,
    from_file: FromOption = None,
    remote_path: RemotePathOption = None,
    data: DataFlag = False,
    split: SplitOption = "all",
    year: FetchYearOption = None,
    data_dir: DataDirOption = None,
    force: ForceFlag = False,
    list_: ListFlag = False,
    config: ConfigOption = None,
    set_: SetOption = None,
    threshold_clips: ThresholdClipsOption = None,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
    json_out: JsonOption = False,
) -> None:
    """Download published models and calibrate them; --data fetches the DCASE data too.

    A model is calibrated on its machine's training data when that is present;
    otherwise its checkpoint is kept and the command that gets the data is shown.
    """
    from aegan.errors import UsageError
    from aegan.hub.fetch import FetchRequest
    from aegan.hub.fetch import fetch as fetch_names

    if list_:
        if names or from_file or remote_path or data:
            raise UsageError("--list takes no names and no other fetch options.")
        list_available(year, data_dir, json_out)
        return
    if not names:
        raise UsageError(
            "Name a model to fetch (e.g. fan22), or a machine type with --data.",
            "See `aegan fetch --list` for what is available.",
        )
    if split != "all" and not data:
        raise UsageError("--split chooses which data --data downloads.", "Add --data.")
    request = FetchRequest(
        data=data, split=split, data_dir=data_dir, config_file=config,
        overrides=tuple(set_ or ()), source_file=from_file, remote_path=remote_path, force=force,
        device=gpu, threshold_clips=parse_threshold_clips(threshold_clips), precision=precision,
    )  # fmt: skip
    follow_up = ["--data-dir", data_dir] if data_dir else []

    def render(done: TargetFetch) -> None:
        if json_out:
            return
        if done.data is not None:
            render_data(done.target, done.data, follow_up)
        if done.model is not None:
            render_model(done.model, follow_up, recipe_options(config, set_))

    with progress_bars(transient=True) as progress:
        fetched = fetch_names(
            names, year=year, request=request, progress=progress, announce=announce_calibration,
            on_fetched=render,
        )  # fmt: skip
    if json_out:
        print_json([done.to_dict() for done in fetched])


def list_available(year: str | None, data_dir: Path | None, json_out: bool) -> None:
    from aegan.config.settings import data_root, load_settings
    from aegan.dcase.facts import YEARS, parse_year
    from aegan.hub.availability import availability

    settings = load_settings()
    years = [parse_year(year)] if year else list(YEARS)
    roots = {y: data_root(y, data_dir, settings, download=True) for y in years}
    with err_console.status("Asking the share and Zenodo what they hold..."):
        found = availability(years, roots, settings.hub)
    if json_out:
        print_json(dataclasses.asdict(found))
    else:
        render_availability(found, roots)


# ---------------------------------------------------------------- what fetch prints


def command(*words: str | Path) -> str:
    """A command line to show the user, quoted so that it can be pasted."""
    return " ".join(shlex.quote(str(w)) for w in words)


def recipe_options(config: Path | None, set_: list[str] | None) -> list[str | Path]:
    """The --config/--set a follow-up fetch needs to calibrate with the same recipe."""
    words: list[str | Path] = ["--config", config] if config else []
    for item in set_ or []:
        words += ["--set", item]
    return words


def render_data(target: Target, summary: FetchSummary, dir_option: list[str | Path]) -> None:
    what = f"{target.machine} (DCASE {target.year}) data"
    if summary.downloaded:
        console.print(f"{what}: fetched {', '.join(summary.downloaded)}.", highlight=False)
    else:
        console.print(f"{what}: already complete, nothing downloaded.")
    for folder in summary.folders:
        console.print(f"  {folder}", highlight=False)
    if summary.ground_truth:
        console.print(f"Eval ground truth: {ground_truth_folder(summary.root)}", highlight=False)
    if summary.ground_truth_error:
        console.print(
            f"[yellow]The eval ground truth was not fetched:[/] {summary.ground_truth_error}",
            highlight=False,
        )
    short = short_year(target.year)
    prepare = command("aegan", "prepare", target.machine, "--year", short, *dir_option)
    console.print(f"Next: [bold]{prepare}[/]", highlight=False)


def render_model(
    result: ModelFetch, dir_option: list[str | Path], recipe: list[str | Path]
) -> None:
    model, checkpoint = result.model, result.checkpoint
    if checkpoint is None:
        console.print(
            f"{model.name} is already fetched and calibrated: {result.bundle}. Nothing to do "
            "(--force fetches and calibrates it again).",
            highlight=False,
        )
        return
    how = {"downloaded": "downloaded and verified", "copied": "imported", "cached": "in the cache"}
    console.print(
        f"{model.name}: checkpoint {how[checkpoint.action]}: {checkpoint.path}", highlight=False
    )
    short = short_year(model.year)
    if result.calibrated:
        console.print(
            f"{model.name}: calibrated on the {model.machine} training data in {result.root}: "
            f"{result.bundle}",
            highlight=False,
        )
        use = command("aegan", "test", model.machine, "--year", short, "--model", model.name)
        console.print(f"Use it: [bold]{use}[/]", highlight=False)
        return
    missing = ", ".join(str(p) for p in result.missing_data)
    get_data = command("aegan", "fetch", "--data", model.machine, "--year", short, *dir_option)
    again = command("aegan", "fetch", model.name, *dir_option, *recipe)
    console.print(
        f"{model.name} is not calibrated yet: its training data is missing ({missing}).\n"
        f"Get the data with [bold]{get_data}[/], then run [bold]{again}[/] again to calibrate.",
        highlight=False,
    )


def remote_text(found: Availability, text: str | None) -> str:
    """The remote value, "?" when offline (unknown), "-" when the server lacks the file."""
    return text if text else ("?" if found.offline else "-")


def render_availability(found: Availability, roots: dict[int, Path]) -> None:
    models = Table(title="Published models", title_justify="left")
    for header in ("name", "year", "machine", "published", "file in the share", "size", "here"):
        models.add_column(header, justify="right" if header == "size" else "left")
    for item in found.models:
        m = item.model
        models.add_row(
            m.name, str(m.year), m.machine, f"{m.figure_name} {m.figure:.2f} ({m.score})",
            remote_text(found, item.remote and item.remote.path),
            remote_text(found, item.remote and format_bytes(item.remote.size)), item.state,
        )  # fmt: skip
    archives = Table(title="DCASE archives (Zenodo)", title_justify="left")
    for header in ("year", "machine", "archive", "record", "size", "here"):
        archives.add_column(header, justify="right" if header == "size" else "left")
    for item in found.archives:
        archives.add_row(
            str(item.year), item.machine, item.archive.name, str(item.archive.record),
            remote_text(found, item.remote and format_bytes(item.remote.size)),
            "extracted" if item.extracted else "-",
        )  # fmt: skip
    console.print(models)
    console.print(archives)
    if found.offline:
        console.print(
            f"[yellow]Offline:[/] {found.offline} Remote files and sizes are unknown; "
            "what is here is listed.",
            highlight=False,
        )
    if found.unreadable:
        from aegan.bundles.registry import unreadable_note

        for path in found.unreadable:
            console.print(f"[yellow]Note:[/] {unreadable_note(path)}", highlight=False)
    for year, root in roots.items():
        console.print(f"DCASE {year} data folder: {root}", highlight=False)
