"""What `aegan score` shows of timelines: a table per file, CSV rows per window, PNG pictures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from aegan.cli.common import console, err_console

if TYPE_CHECKING:
    from aegan.detector.file_scoring import RecordingScore
    from aegan.detector.timeline import Timeline


def _decision_cell(decision: str | None, error: str | None) -> str:
    if error:
        return f"[red]unusable: {error}[/]"
    return "[bold red]ANOMALY[/]" if decision == "anomaly" else "normal"


def timeline_table(timeline: Timeline) -> Table:
    """Every window of one file: start, end, score, decision; the worst one marked."""
    worst = timeline.worst
    title = (
        f"{timeline.path.name}: {len(timeline.windows)} windows of {timeline.window_seconds:g} s "
        f"every {timeline.hop_seconds:g} s, threshold {timeline.threshold:.6g}"
    )
    table = Table(title=title, title_justify="left", min_width=len(title))
    for column in ("start (s)", "end (s)", "score"):
        table.add_column(column, justify="right")
    table.add_column("decision")
    for window in timeline.windows:
        score = "-" if window.score is None else f"{window.score:.6g}"
        cell = _decision_cell(window.decision, window.error)
        if window is worst:
            cell += "  (worst)"
        table.add_row(f"{window.start:.2f}", f"{window.end:.2f}", score, cell)
    return table


def print_timelines(outcomes: list[RecordingScore]) -> None:
    """A table per file that was scored as a timeline, after the summary table."""
    for outcome in outcomes:
        if outcome.timeline is not None:
            console.print(timeline_table(outcome.timeline))


def timeline_rows(row: dict) -> list[dict]:
    """CSV rows of one file: a row per window, or the file's one row (no start, end)."""
    line = row["timeline"]
    if line is None:
        keys = ("file", "score", "threshold", "decision", "error")
        return [{"file": row["file"], "start": None, "end": None, **{k: row[k] for k in keys[1:]}}]
    return [
        {
            "file": row["file"],
            "start": w["start"],
            "end": w["end"],
            "score": w["score"],
            "threshold": row["threshold"],
            "decision": w["decision"],
            "error": w["error"],
        }
        for w in line["windows"]
    ]


def print_unplotted(outcomes: list[RecordingScore], clip_seconds: float) -> None:
    """A note on the files --plot drew nothing for: each was scored as one clip."""
    from aegan.detector.file_scoring import LONG_RECORDINGS

    whole = [str(o.result.path) for o in outcomes if o.timeline is None and o.result.error is None]
    if not whole:
        return
    err_console.print(
        f"[yellow]Note:[/] no timeline picture for {len(whole)} file(s) scored as one clip "
        f"({whole[0]}{', ...' if len(whole) > 1 else ''}): files over "
        f"{LONG_RECORDINGS * clip_seconds:.2f} s get a timeline; --timeline gives every file one.",
        highlight=False,
    )
