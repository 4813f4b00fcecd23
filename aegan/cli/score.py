"""`aegan score`: anomaly scores and decisions for recordings."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aegan.cli.common import (
    GpuOption,
    JsonOption,
    PrecisionOption,
    SchedulerOption,
    WorkersOption,
    complete_model,
    console,
    err_console,
    print_error,
    print_json,
    progress_bars,
    reports_errors,
)
from aegan.cli.score_fleet import EXIT_ANOMALY, EXIT_UNREADABLE, score_many
from aegan.cli.score_render import print_timelines, print_unplotted, timeline_rows

if TYPE_CHECKING:
    from aegan.detector.file_scoring import RecordingScore
    from aegan.errors import AeganError


def _complete_score(incomplete: str) -> list[str]:
    from aegan.score_names import SCORE_NAMES

    return [n for n in SCORE_NAMES if n.lower().startswith(incomplete.lower())]


def _common_parent(rows: list[dict]) -> Path | None:
    parents = {Path(row["file"]).parent for row in rows}
    if len(rows) < 2:
        return None
    common = Path(os.path.commonpath([str(p) for p in parents]))
    return common if str(common) not in ("", "/", ".") else None


def _table(rows: list[dict], model: str, score: str) -> Table:
    parent = _common_parent(rows)
    title = f"{score} of model {model}" + (f", files under {parent}" if parent else "")
    table = Table(title=title, title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("threshold", justify="right")
    table.add_column("decision")
    for row in rows:
        shown = str(Path(row["file"]).relative_to(parent)) if parent else row["file"]
        if row["error"]:
            table.add_row(shown, "-", "-", f"[red]unreadable: {row['error']}[/]")
        else:
            decision = "[bold red]ANOMALY[/]" if row["decision"] == "anomaly" else "normal"
            table.add_row(shown, f"{row['score']:.6g}", f"{row['threshold']:.6g}", decision)
    return table


def _write_csv(rows: list[dict]) -> None:
    """One row per file, or per window when any file has a timeline (start/end in seconds)."""
    if not any(row["timeline"] for row in rows):
        flat = [{k: v for k, v in row.items() if k != "timeline"} for row in rows]
    else:
        flat = [window for row in rows for window in timeline_rows(row)]
    writer = csv.DictWriter(sys.stdout, fieldnames=list(flat[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)


def _plot(outcomes: list[RecordingScore], folder: Path, model: str) -> AeganError | None:
    """Write the timeline pictures and print their paths; the error if they cannot be written
    (a full or read-only drive), so that the scores computed are still printed."""
    from aegan.errors import system_failure
    from aegan.results.maps import timeline_pictures

    timelines = [o.timeline for o in outcomes if o.timeline is not None]
    try:
        pictures = timeline_pictures(timelines, folder, model)
    except OSError as exc:
        return system_failure(exc, f"write the timeline pictures into {folder}", folder)
    for picture in pictures:
        err_console.print(f"Timeline picture: {picture}", highlight=False)
    return None


@reports_errors
def score(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(help="WAV/FLAC files, folders (recursive) or globs.", show_default=False),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model name (see `aegan models`) or bundle path.",
            autocompletion=complete_model,
        ),
    ] = None,
    score_name: Annotated[
        str | None,
        typer.Option(
            "--score",
            help="Use another of the 19 scores instead of the model's.",
            autocompletion=_complete_score,
        ),
    ] = None,
    json_out: JsonOption = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    fail_on_anomaly: Annotated[
        bool,
        typer.Option(
            "--fail-on-anomaly", help=f"Exit with code {EXIT_ANOMALY} when any file is anomalous."
        ),
    ] = False,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="Score every file window by window (files over 1.5 clips get this by default).",
        ),
    ] = False,
    whole: Annotated[
        bool, typer.Option("--whole", help="Score every file as one clip: one number, no timeline.")
    ] = False,
    hop: Annotated[
        float | None,
        typer.Option(
            "--hop",
            metavar="SECONDS",
            help="Timeline windows start this far apart: at most one clip, the default.",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="FOLDER",
            help="Write a PNG of score against time per timeline into FOLDER.",
            file_okay=False,
        ),
    ] = None,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="CSV",
            help="Files to score, one per line: columns path, and optionally model and source.",
            dir_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FOLDER",
            help="Write one part file per chunk of files, a row per window, into FOLDER; "
            "the same command again resumes.",
            file_okay=False,
        ),
    ] = None,
    out_format: Annotated[
        str, typer.Option("--out-format", help="Part files: parquet or csv.")
    ] = "parquet",
    chunk_files: Annotated[
        int, typer.Option("--chunk-files", metavar="N", help="Files per part (and per task).")
    ] = 16,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Score recordings with a model: anomaly score, threshold and decision per file.

    Files are read at any sample rate, of the model's channel (feat.channel); each must last at least
    one model input (about 4 s at full size). A file longer than 1.5 model clips
    (the training clips' length) is scored as a timeline: a score and decision per
    clip-long window, the file's row showing its worst window. Exit codes: 0 all
    files scored, 1 some file could not be read (the others are still scored),
    3 with --fail-on-anomaly when any file (or window) is anomalous, 2 a usage error.

    Many files: --out FOLDER writes part files (resumable) and a summary;
    --manifest, --workers and --scheduler (a Dask cluster) go with it.
    """
    from aegan.detector.detector import Detector
    from aegan.detector.file_scoring import recording_rows, score_recordings, scores_document
    from aegan.errors import UsageError
    from aegan.features.audio import find_audio_files
    from aegan.features.stream import check_hop
    from aegan.fleet.chunks import ScoreSettings
    from aegan.score_names import score_index

    if json_out and csv_out:
        raise typer.BadParameter("use --json or --csv, not both")
    if timeline and whole:
        raise typer.BadParameter("use --timeline or --whole, not both")
    if plot is not None and whole:
        raise typer.BadParameter(
            "--plot draws timelines, and --whole scores every file as one clip: use one"
        )
    if score_name is not None:
        score_index(score_name)  # a wrong name fails before any work
    if hop is not None:
        check_hop(hop)
    mode = True if timeline else False if whole else None
    if out is not None or manifest is not None or workers is not None or scheduler is not None:
        if plot is not None:
            raise UsageError(
                "--plot draws the timelines of one run's table; with --out they are in the parts.",
                "Drop --plot, or plot a file's rows from its part.",
            )
        return score_many(
            inputs or [], model, manifest, out, out_format, chunk_files, workers, scheduler,
            ScoreSettings(mode, hop, score_name, precision, gpu),
            json_out=json_out, csv_out=csv_out, fail_on_anomaly=fail_on_anomaly,
        )  # fmt: skip
    if not inputs or model is None:
        raise UsageError(
            "Give the files to score and --model.", "E.g. `aegan score mic.wav --model fan22`."
        )
    files = find_audio_files(inputs)
    detector = Detector.load(model, device=gpu, precision=precision)
    name = score_name or detector.score_name
    with progress_bars(transient=True) as progress:
        outcomes = score_recordings(
            detector, files, timeline=mode, hop=hop, score=name, progress=progress
        )
    rows = recording_rows(outcomes, detector.threshold(name))
    unplotted = None if plot is None else _plot(outcomes, plot, detector.name or model)
    if plot is not None:
        print_unplotted(outcomes, detector.clip_seconds)
    if json_out:
        print_json(scores_document(detector.name, name, rows))
    elif csv_out:
        _write_csv(rows)
    else:
        console.print(_table(rows, detector.name or model, name))
        print_timelines(outcomes)
        anomalous = sum(r["decision"] == "anomaly" for r in rows)
        failed = sum(r["error"] is not None for r in rows)
        console.print(
            f"{anomalous} of {len(rows)} anomalous"
            + (f", {failed} unreadable" if failed else "")
            + "."
        )
    if unplotted is not None:  # the scores are out; now say what could not be drawn
        print_error(unplotted)
    if fail_on_anomaly and any(r["decision"] == "anomaly" for r in rows):
        raise typer.Exit(EXIT_ANOMALY)
    if unplotted is not None:
        raise typer.Exit(unplotted.exit_code)
    if any(r["error"] for r in rows):
        raise typer.Exit(EXIT_UNREADABLE)
