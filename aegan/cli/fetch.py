"""`aegan fetch`: published models (calibrated into bundles) and the DCASE data.

The options are read here; what the names mean is ``aegan.hub.fetch.parse_targets``,
the work is ``aegan.hub``'s and the output ``aegan.cli.fetch_render``'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aegan.cli.common import (
    ConfigOption,
    DataDirOption,
    GpuOption,
    JsonOption,
    PrecisionOption,
    SetOption,
    complete_model,
    err_console,
    load_config,
    print_json,
    progress_bars,
    reports_errors,
)
from aegan.cli.fetch_render import recipe_options, render_availability, render_data, render_model

if TYPE_CHECKING:
    import torch

    from aegan.bundles.registry import PublishedModel
    from aegan.calibration.passes import CalibrationEstimate
    from aegan.config.schema import Config
    from aegan.config.settings import HubSettings, Settings
    from aegan.hub.fetch import ModelFetch, Target
    from aegan.hub.zenodo import FetchSummary


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
    threshold_clips: str | None = None
    precision: str = "fp32"

    def calibration(self, device: torch.device) -> dict[str, Any]:
        """The calibration keywords: threshold clips, precision and the estimate's printer."""
        from aegan.calibration.threshold_clips import DEFAULT_THRESHOLD_CLIPS, check_threshold_clips
        from aegan.errors import UsageError
        from aegan.model.precision import check_precision

        clips: int | None = DEFAULT_THRESHOLD_CLIPS
        if self.threshold_clips == "all":
            clips = None
        elif self.threshold_clips is not None:
            try:
                clips = int(self.threshold_clips)
            except ValueError:
                raise UsageError(
                    f"--threshold-clips takes a number or 'all', not {self.threshold_clips!r}."
                ) from None
            check_threshold_clips(clips)
        return {
            "threshold_clips": clips,
            "precision": check_precision(self.precision, device),
            "announce": announce_calibration,
        }

    @property
    def dir_option(self) -> list[str | Path]:
        return ["--data-dir", self.data_dir] if self.data_dir else []


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
    from aegan.hub.fetch import parse_targets

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
    options = FetchOptions(
        from_file, remote_path, data, split, data_dir, force, config, set_, gpu,
        threshold_clips, precision,
    )  # fmt: skip
    if any(target.model for target in targets):  # a bad value fails before any download
        from aegan.cli.devices import parse_device
        from aegan.config.settings import load_settings

        options.calibration(parse_device(gpu, load_settings().device))
    reports = [fetch_one(target, options, quiet=json_out) for target in targets]
    if json_out:
        print_json(reports)


def fetch_one(target: Target, options: FetchOptions, quiet: bool) -> dict[str, Any]:
    """The data (with --data), then the model, of one target; rendered unless ``quiet``."""
    from aegan.config.settings import data_root, load_settings

    settings = load_settings()
    root = data_root(target.year, options.data_dir, settings, download=True)
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

    device = parse_device(options.gpu, settings.device)
    with progress_bars(transient=True) as progress:
        result = fetch_model(
            model, cfg, root, settings.hub,
            source_file=options.from_file, remote_path=options.remote_path, force=options.force,
            device=device, progress=progress, calibration=options.calibration(device),
        )  # fmt: skip
    if not quiet:
        render_model(result, options.dir_option, recipe_options(options.config, options.set_))
    return result


def list_available(year: str | None, data_dir: Path | None, json_out: bool) -> None:
    from aegan.config.settings import data_root, load_settings
    from aegan.dcase.facts import YEARS, parse_year
    from aegan.hub.fetch import availability

    settings = load_settings()
    years = [parse_year(year)] if year else list(YEARS)
    roots = {y: data_root(y, data_dir, settings, download=True) for y in years}
    with err_console.status("Asking the share and Zenodo what they hold..."):
        found = availability(years, roots, settings.hub)
    if json_out:
        print_json(dataclasses.asdict(found))
    else:
        render_availability(found, roots)
