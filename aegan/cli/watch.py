"""`aegan watch`: listen to folders, streams and sound cards; alerts that hold."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from aegan.cli.common import GpuOption, PrecisionOption, complete_model, reports_errors

_PANEL_SINKS = "Sinks"
_PANEL_STREAM = "Streams and sound cards"


@reports_errors
def watch(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Folders a recorder fills, or - for standard input.", show_default=False
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model name or bundle path.", autocompletion=complete_model
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A plant file: several sources (YAML).", dir_okay=False),
    ] = None,
    hop: Annotated[
        float | None,
        typer.Option(
            "--hop", metavar="SECONDS", help="Windows start this far apart (default: one window)."
        ),
    ] = None,
    alert: Annotated[
        str,
        typer.Option(
            "--alert",
            metavar="K/N",
            help="Open an alert when K of the last N windows are anomalous.",
        ),
    ] = "3/5",
    clear: Annotated[
        int | None,
        typer.Option(
            "--clear", metavar="M", help="Close it after M normal windows in a row (default: N)."
        ),
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Also score the files already in a folder.")
    ] = False,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            metavar="SECONDS",
            help="A file is complete once its size held still this long.",
        ),
    ] = 2.0,
    poll: Annotated[
        bool, typer.Option("--poll", help="Poll folders instead of using file-system events.")
    ] = False,
    max_backlog: Annotated[
        float | None,
        typer.Option(
            "--max-backlog",
            metavar="SECONDS",
            help="Drop (and report) the oldest audio beyond this much waiting.",
        ),
    ] = None,
    heartbeat: Annotated[
        float,
        typer.Option(
            "--heartbeat", metavar="SECONDS", help="Seconds between heartbeat events (0: none)."
        ),
    ] = 60.0,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            metavar="FILE",
            help="The JSON Lines event log (default: one per source in the cache).",
            rich_help_panel=_PANEL_SINKS,
            dir_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FOLDER",
            help="Per-source folders of state, scores and snippets (default: the cache).",
            rich_help_panel=_PANEL_SINKS,
            file_okay=False,
        ),
    ] = None,
    scores: Annotated[
        bool,
        typer.Option(
            "--scores/--no-scores",
            help="Window scores as CSV (and Parquet), a file a day.",
            rich_help_panel=_PANEL_SINKS,
        ),
    ] = True,
    snippets: Annotated[
        bool,
        typer.Option(
            "--snippets/--no-snippets",
            help="The audio of each alert as WAV beside the log.",
            rich_help_panel=_PANEL_SINKS,
        ),
    ] = True,
    snippets_max_mb: Annotated[
        float,
        typer.Option(
            "--snippets-max-mb",
            metavar="MB",
            help="Size cap of the snippets folder.",
            rich_help_panel=_PANEL_SINKS,
        ),
    ] = 200.0,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            metavar="URL",
            help="POST each alert event (JSON) here; queued on disk while it is down.",
            rich_help_panel=_PANEL_SINKS,
        ),
    ] = None,
    json_lines: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print events as JSON lines even on a terminal.",
            rich_help_panel=_PANEL_SINKS,
        ),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Raw PCM on standard input: s16le, s32le or f32le (default: WAV).",
            rich_help_panel=_PANEL_STREAM,
        ),
    ] = None,
    rate: Annotated[
        int, typer.Option("--rate", help="Sample rate of raw PCM.", rich_help_panel=_PANEL_STREAM)
    ] = 16000,
    channels: Annotated[
        int, typer.Option("--channels", help="Channels of raw PCM.", rich_help_panel=_PANEL_STREAM)
    ] = 1,
    device: Annotated[
        list[str] | None,
        typer.Option(
            "--device",
            metavar="NAME|INDEX",
            help="Record from a sound card (repeatable).",
            rich_help_panel=_PANEL_STREAM,
        ),
    ] = None,
    list_devices: Annotated[
        bool,
        typer.Option(
            "--list-devices",
            help="List the sound cards that can record, and exit.",
            rich_help_panel=_PANEL_STREAM,
        ),
    ] = False,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
) -> None:
    """Listen until stopped: score every window of each source, raise alerts that hold.

    A window is one model clip long; an alert opens when K of the last N windows
    are anomalous and closes after M normal windows in a row. Events go to a
    JSON Lines log per source, to standard output (a live view on a terminal,
    JSON lines otherwise) and, for alerts, to --webhook. Ctrl-C or SIGTERM
    finishes the batch in hand, flushes everything and exits 0; a restart
    continues where it stopped.
    """
    from aegan.cli.watch_render import print_devices, renderer
    from aegan.monitor.monitor import Monitor
    from aegan.monitor.options import WatchOptions, specs_from_options

    if list_devices:
        print_devices()
        return
    options = WatchOptions(
        sources=list(sources or []), devices=list(device or []), model=model, config=config,
        hop=hop, alert=alert, clear=clear, from_start=from_start, settle=settle, poll=poll,
        max_backlog=max_backlog, heartbeat=heartbeat, events=events, out=out, scores=scores,
        snippets=snippets, snippets_max_mb=snippets_max_mb, webhook=webhook,
        encoding=encoding, rate=rate, channels=channels,
    )  # fmt: skip
    specs, beat = specs_from_options(options)
    monitor = Monitor(specs, loader=_loader(gpu, precision), heartbeat=beat)
    with renderer(monitor, json_lines):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: monitor.request_stop())
        monitor.run()


def _loader(gpu: str | None, precision: str):
    """Each model on --gpu (default: the device setting) in --precision, loaded once."""
    from aegan.detector.detector import Detector

    return lambda name: Detector.load(name, device=gpu, precision=precision)
