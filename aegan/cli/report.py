"""`aegan report`: every `aegan test` result beside the published figures."""

from __future__ import annotations

import io
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from aegan.cli.common import console, err_console, reports_errors

if TYPE_CHECKING:
    from aegan.results.report import Report


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    html = "html"


def dropped_when_narrow(header: str) -> bool:
    """Columns left out when the full table is wider than the terminal (the other formats keep them)."""
    return header.startswith("best ") or header == "published score"


def rich_table(head: list[str], body: list[list[str]], title: str, caption: str) -> Table:
    from aegan.results.tables import is_text_column

    table = Table(
        title=title, caption=caption, box=box.SIMPLE_HEAD,
        title_justify="left", caption_justify="left", pad_edge=False,
    )  # fmt: skip
    for header in head:
        stacked = header.replace(" ", "\n", 1)  # two-line headers keep columns narrow
        justify = "left" if is_text_column(header) else "right"
        table.add_column(stacked, justify=justify, no_wrap=True)
    for index, cells in enumerate(body):
        table.add_row(*cells, style="bold" if index == len(body) - 1 else None)
    return table


def narrow_columns(head: list[str], body: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    keep = [i for i, h in enumerate(head) if not dropped_when_narrow(h)]
    return [head[i] for i in keep], [[row[i] for i in keep] for row in body]


def rich_tables(report: Report, width: int) -> list[Table]:
    """One table per year and test set, fitted to ``width`` columns by leaving out name columns."""
    from aegan.results.tables import table_cells, table_note, table_title

    tables = []
    for entry in report.tables:
        head, body = table_cells(entry)
        title, caption = table_title(entry), table_note(entry)
        table = rich_table(head, body, title, caption)
        if Measurement.get(console, console.options.update_width(10**4), table).maximum > width:
            caption += (
                " Narrow terminal: the best score, its figure and the published score are left"
                " out (widen it, or use --format markdown)."
            )
            table = rich_table(*narrow_columns(head, body), title, caption)
        tables.append(table)
    return tables


PLAIN_WIDTH = 200


def plain_text(tables: list[Table]) -> str:
    """The terminal tables without colour, for a file."""
    buffer = io.StringIO()
    writer = Console(file=buffer, width=PLAIN_WIDTH, no_color=True, highlight=False)
    for table in tables:
        writer.print(table)
    return buffer.getvalue()


@reports_errors
def report(
    format_: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
    ] = Format.table,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results",
            "-r",
            help="Folder searched recursively for results.json (default: where `aegan test` writes).",
            file_okay=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the report to this file.", dir_okay=False),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the --out file if it exists.")
    ] = False,
) -> None:
    """All test results side by side with the paper's: terminal, markdown, csv, json or html."""
    from aegan import paths
    from aegan.errors import UsageError
    from aegan.results.formats import RENDERERS
    from aegan.results.report import collect

    if out is not None and out.exists() and not force:
        raise UsageError(
            f"{out} already exists; the report was not written.",
            "Add --force to replace it, or choose another file with --out.",
        )
    found = collect(results or paths.results_dir())
    for path, reason in found.skipped:
        err_console.print(f"[yellow]Skipped[/] {path}: {reason}", highlight=False)
    if format_ is Format.table:
        tables = rich_tables(found, console.width if out is None else PLAIN_WIDTH)
        if out is None:
            for table in tables:
                console.print(table)
            return
        text = plain_text(tables)
    else:
        text = RENDERERS[format_.value](found)
    if out is None:
        typer.echo(text, nl=False)
    else:
        paths.write_text_atomic(out, text)
        console.print(f"Report written to {out}", highlight=False)
