"""`aegan models`: the published models and every local bundle, with their state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from aegan.cli.common import JsonOption, console, human_bytes, print_json, reports_errors

if TYPE_CHECKING:
    from aegan.bundles.registry import ModelEntry

STATE_STYLES = {"ready": "green", "checkpoint only": "yellow", "not fetched": "dim"}


def _machine(entry: ModelEntry) -> str:
    """The machine type, or for a model of your own data the folder it was trained on."""
    return f"own: {Path(entry.data).name}" if entry.data else entry.machine


@reports_errors
def models(json_out: JsonOption = False) -> None:
    """List the published models and every local bundle: score, source, state and size.

    Names work in any letter case wherever a model is asked for (--model fan22);
    a published model becomes ready with `aegan fetch NAME`.
    """
    from aegan import paths
    from aegan.bundles.registry import model_listing, unreadable_note

    entries, unreadable = model_listing()
    if json_out:
        print_json([dataclasses.asdict(e) for e in entries])
        return
    table = Table(title="Models", title_justify="left")
    for header in ("name", "year", "machine", "score", "published", "source", "state", "size"):
        table.add_column(header, justify="right" if header == "size" else "left")
    for e in entries:
        known = e.published
        figure = f"{known.figure_name} {known.figure:.2f}" if known else "-"
        style = STATE_STYLES.get(e.state, "")
        table.add_row(
            e.name, str(e.year), _machine(e), e.score, figure, e.source,
            f"[{style}]{e.state}[/]", human_bytes(e.size) if e.size else "-",
        )  # fmt: skip
    console.print(table)
    console.print(f"Models folder: {paths.models_dir()}", highlight=False)
    for path in unreadable:
        console.print(f"[yellow]Note:[/] {unreadable_note(path)}", highlight=False)
    if any(e.state != "ready" for e in entries):
        console.print("Get a published model with [bold]aegan fetch NAME[/].")
