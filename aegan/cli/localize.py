"""`aegan localize`: anomaly maps of recordings, as PNG pictures and arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aegan.cli.common import (
    GpuOption,
    JsonOption,
    ModelOption,
    PrecisionOption,
    console,
    err_console,
    print_json,
    progress_bars,
    reports_errors,
)


@reports_errors
def localize(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Audio files (.wav, .flac), folders (searched recursively) or glob patterns.",
            show_default=False,
        ),
    ],
    model: ModelOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the pictures and arrays (default: in the cache, per model).",
            file_okay=False,
        ),
    ] = None,
    start: Annotated[
        float | None,
        typer.Option("--start", metavar="SECONDS", help="Map only the stretch from here (s) on."),
    ] = None,
    end: Annotated[
        float | None,
        typer.Option("--end", metavar="SECONDS", help="Map only the stretch up to here (s)."),
    ] = None,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
    json_out: JsonOption = False,
) -> None:
    """Anomaly maps: where in time and frequency each recording departs from normal.

    Writes <name>.png (input, reconstruction, mean training spectrogram and two
    maps) and <name>.npz (the same arrays) per input. --start/--end map a
    stretch of a long recording; the time axis stays the recording's.
    """
    from aegan import paths
    from aegan.detector.detector import Detector
    from aegan.errors import EXIT_RUNTIME, UsageError
    from aegan.features.audio import find_audio_files
    from aegan.results.maps import localize_files

    if model is None:
        raise UsageError("Name the model to localise with: --model NAME.", "See `aegan models`.")
    files = find_audio_files(inputs)
    detector = Detector.load(model, device=gpu, precision=precision)
    folder = out or paths.maps_dir(detector.name or "model")
    with progress_bars(transient=True) as progress:
        results = localize_files(detector, files, folder, start=start, end=end, progress=progress)
    failed = [r for r in results if r.error]
    if json_out:
        print_json(
            [{"path": r.path, "png": r.png, "arrays": r.arrays, "error": r.error} for r in results]
        )
    else:
        console.print(
            f"{len(results) - len(failed)} of {len(results)} maps written to {folder}",
            highlight=False,
        )
    for result in failed:
        err_console.print(f"[bold red]Skipped[/] {result.path}: {result.error}", highlight=False)
    if failed:
        raise typer.Exit(EXIT_RUNTIME)
