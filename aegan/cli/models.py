"""`aegan models`: the published models and every local bundle, with their state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from aegan.byte_sizes import format_bytes
from aegan.cli.common import JsonOption, console, print_json, reports_errors

if TYPE_CHECKING:
    from aegan.bundles.registry import ModelEntry

STATE_STYLES = {"ready": "green", "checkpoint only": "yellow", "not fetched": "dim"}


def _machine(entry: ModelEntry) -> str:
    """The machine type, or for a model of your own data the folder it was trained on."""
    return f"own: {Path(entry.data).name}" if entry.data else entry.machine


COLUMNS = ("name", "year", "machine", "score", "published", "source", "state", "size")
DROP_ORDER = ("source", "published", "size", "year", "score")
"""Columns left out, in this order, where the terminal is too narrow: the name is never cut."""


def _row(entry: ModelEntry) -> dict[str, str]:
    known = entry.published
    style = STATE_STYLES.get(entry.state, "")
    return {
        "name": entry.name,
        "year": str(entry.year),
        "machine": _machine(entry),
        "score": entry.score,
        "published": f"{known.figure_name} {known.figure:.2f}" if known else "-",
        "source": entry.source,
        "state": f"[{style}]{entry.state}[/]",
        "size": format_bytes(entry.size) if entry.size else "-",
    }


def _table(rows: list[dict[str, str]], columns: list[str]) -> Table:
    table = Table(title="Models", title_justify="left")
    for header in columns:
        table.add_column(
            header,
            justify="right" if header == "size" else "left",
            no_wrap=header == "name",  # the one column users copy: whole, on one line
        )
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return table


def _narrowest(rows: list[dict[str, str]], column: str) -> int:
    """The least width of a column that cuts no word (no name, the column that never wraps)."""
    texts = [column, *(Text.from_markup(row[column]).plain for row in rows)]
    if column == "name":
        return max(len(text) for text in texts)
    return max(len(word) for text in texts for word in text.split())


def _fitting_table(rows: list[dict[str, str]], width: int) -> tuple[Table, list[str]]:
    """The table with the columns that fit in ``width`` with no name or word cut.

    Rich wraps cells at spaces to fit; below the sum of the longest words it
    would cut words (and names), so columns are left out before that.
    """
    columns, left_out = list(COLUMNS), []
    for column in DROP_ORDER:
        # each column: its text, a space either side and a rule; one more rule closes the row
        needed = sum(_narrowest(rows, c) + 3 for c in columns) + 1
        if needed <= width:
            break
        columns.remove(column)
        left_out.append(column)
    return _table(rows, columns), left_out


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
    table, left_out = _fitting_table([_row(e) for e in entries], console.width)
    console.print(table)
    if left_out:
        console.print(
            f"Left out to fit the terminal: {', '.join(left_out)} (--json has every field).",
            highlight=False,
        )
    console.print(f"Models folder: {paths.models_dir()}", highlight=False)
    for path in unreadable:
        console.print(f"[yellow]Note:[/] {unreadable_note(path)}", highlight=False)
    if any(e.state != "ready" for e in entries):
        console.print("Get a published model with [bold]aegan fetch NAME[/].")
