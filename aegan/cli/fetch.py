"""`aegan fetch`: published models (calibrated into bundles) and the DCASE data."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from aegan.cli.common import (
    ConfigOption,
    DataDirOption,
    GpuOption,
    JsonOption,
    SetOption,
    complete_model,
    console,
    data_root,
    err_console,
    human_bytes,
    load_config,
    print_json,
    progress_bars,
    reports_errors,
)

if TYPE_CHECKING:
    from aegan.config.schema import Config, HubSettings, Settings
    from aegan.hub.fetch import Availability, ModelFetch
    from aegan.hub.zenodo import FetchSummary
    from aegan.model.registry import PublishedModel


@dataclass(frozen=True)
class Target:
    """One name on the command line: a published model, or (with --data) a machine type."""

    year: int
    machine: str
    model: PublishedModel | None


@dataclass(frozen=True)
class FetchOptions:
    """What the command line asked for, besides the names."""

    from_file: Path | None
    remote_path: str | None
    data: bool
    split: str
    data_dir: Path | None
    force: bool
    config: Path | None
    set_: list[str] | None
    gpu: str | None

    @property
    def dir_option(self) -> list[str | Path]:
        return ["--data-dir", self.data_dir] if self.data_dir else []


def parse_targets(names: list[str], year: str | None, data: bool) -> list[Target]:
    from aegan.dcase.clips import canonical_machine, normalize_year
    from aegan.errors import UsageError
    from aegan.model.registry import published, require_published

    given = normalize_year(year) if year else None
    targets = []
    for name in names:
        model = published(name)
        if model is None and data:
            machine_year = given or 2022
            targets.append(Target(machine_year, canonical_machine(machine_year, name), None))
            continue
        model = model or require_published(name)
        if given is not None and given != model.year:
            raise UsageError(
                f"{model.name} is a DCASE {model.year} model, but --year says {given}.",
                f"Drop --year, or name the DCASE {given} model.",
            )
        targets.append(Target(model.year, model.machine, model))
    return targets


def resolve_root(year: int, data_dir: Path | None) -> Path:
    """--data-dir, else the user config's root, else the download folder (even if absent)."""
    from aegan.paths import dcase_data_dir

    return data_root(year, data_dir) or dcase_data_dir(year)


def command(*words: str | Path) -> str:
    """A command line to show the user, quoted so that it can be pasted."""
    return " ".join(shlex.quote(str(w)) for w in words)


def recipe_options(config: Path | None, set_: list[str] | None) -> list[str | Path]:
    """The --config/--set a follow-up fetch needs to calibrate with the same recipe."""
    words: list[str | Path] = ["--config", config] if config else []
    for item in set_ or []:
        words += ["--set", item]
    return words


# ---------------------------------------------------------------- rendering


def render_data(target: Target, summary: FetchSummary, dir_option: list[str | Path]) -> None:
    from aegan.dcase.ground_truth import ground_truth_folder

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
    short = str(target.year)[2:]
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
    short = str(model.year)[2:]
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
            remote_text(found, item.remote and human_bytes(item.remote.size)), item.state,
        )  # fmt: skip
    archives = Table(title="DCASE archives (Zenodo)", title_justify="left")
    for header in ("year", "machine", "archive", "record", "size", "here"):
        archives.add_column(header, justify="right" if header == "size" else "left")
    for item in found.archives:
        archives.add_row(
            str(item.year), item.machine, item.archive.name, str(item.archive.record),
            remote_text(found, item.remote and human_bytes(item.remote.size)),
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
    for year, root in roots.items():
        console.print(f"DCASE {year} data folder: {root}", highlight=False)


# ---------------------------------------------------------------- the command


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
        help="DCASE edition (20 or 22) of machine types given with --data (default 22), "
        "or of what --list shows.",
    ),
]
ForceFlag = Annotated[
    bool, typer.Option("--force", help="Download the checkpoint again and recalibrate.")
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
    gpu: GpuOption = None,
    json_out: JsonOption = False,
) -> None:
    """Download published models and calibrate them; --data fetches the DCASE data too.

    A model is calibrated on its machine's training data when that is present;
    otherwise its checkpoint is kept and the command that gets the data is shown.
    """
    from aegan.errors import UsageError

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
    targets = parse_targets(names, year, data)
    if (from_file or remote_path) and (len(targets) != 1 or targets[0].model is None):
        raise UsageError("--from and --remote-path need exactly one model name.")
    options = FetchOptions(from_file, remote_path, data, split, data_dir, force, config, set_, gpu)
    reports = [fetch_one(target, options, quiet=json_out) for target in targets]
    if json_out:
        print_json(reports)


def fetch_one(target: Target, options: FetchOptions, quiet: bool) -> dict[str, Any]:
    """The data (with --data), then the model, of one target; rendered unless ``quiet``."""
    from aegan.config.schema import load_settings

    settings = load_settings()
    root = resolve_root(target.year, options.data_dir)
    model = target.model
    cfg = load_config(str(target.year), target.machine, options.config, options.set_)
    summary = fetch_data(target, options, root, settings.hub, quiet) if options.data else None
    result = fetch_published(model, cfg, options, root, settings, quiet) if model else None
    return {
        "year": target.year,
        "machine": target.machine,
        "data": dataclasses.asdict(summary) if summary else None,
        "model": dataclasses.asdict(result) if result else None,
    }


def fetch_data(
    target: Target, options: FetchOptions, root: Path, hub: HubSettings, quiet: bool
) -> FetchSummary:
    from aegan.hub.zenodo import fetch_dataset

    with progress_bars(transient=True) as progress:
        summary = fetch_dataset(target.year, target.machine, options.split, root, hub, progress)
    if not quiet:
        render_data(target, summary, options.dir_option)
    return summary


def fetch_published(
    model: PublishedModel,
    cfg: Config,
    options: FetchOptions,
    root: Path,
    settings: Settings,
    quiet: bool,
) -> ModelFetch:
    from aegan.cli.devices import parse_device
    from aegan.hub.fetch import fetch_model

    with progress_bars(transient=True) as progress:
        result = fetch_model(
            model, cfg, root, settings.hub,
            source_file=options.from_file, remote_path=options.remote_path, force=options.force,
            device=parse_device(options.gpu, settings.device), progress=progress,
        )  # fmt: skip
    if not quiet:
        render_model(result, options.dir_option, recipe_options(options.config, options.set_))
    return result


def list_available(year: str | None, data_dir: Path | None, json_out: bool) -> None:
    from aegan.config.schema import load_settings
    from aegan.dcase.clips import normalize_year
    from aegan.hub.fetch import availability

    years = [normalize_year(year)] if year else [2020, 2022]
    roots = {y: resolve_root(y, data_dir) for y in years}
    with err_console.status("Asking the share and Zenodo what they hold..."):
        found = availability(years, roots, load_settings().hub)
    if json_out:
        print_json(dataclasses.asdict(found))
    else:
        render_availability(found, roots)
