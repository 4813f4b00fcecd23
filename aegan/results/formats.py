"""The report as text: markdown, CSV, JSON and HTML, by format name.

The terminal table is drawn by the command line; these renderings are what
``aegan report --format`` prints or writes to a file.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aegan.results.html import to_html
from aegan.results.report import Report
from aegan.results.tables import is_text_column, table_cells, table_note, table_records, table_title


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    """GitHub tables, one per year and test set, ready to paste into a README."""
    parts = []
    for table in report.tables:
        head, body = table_cells(table)
        align = ["---" if is_text_column(h) else "---:" for h in head]
        lines = [f"### {table_title(table)}", ""]
        for cells in [head, align, *body]:
            lines.append("| " + " | ".join(_markdown_cell(c) for c in cells) + " |")
        parts.append("\n".join([*lines, "", table_note(table)]))
    return "\n\n".join(parts) + "\n"


CSV_COLUMNS = (
    "year", "subset", "machine", "model", "score", "auc", "pauc", "average",
    "auc_source", "auc_target", "hmean", "best_score", "best_figure",
    "published_score", "published_figure", "difference",
)  # fmt: skip


def json_records(report: Report) -> list[dict[str, Any]]:
    return [record for table in report.tables for record in table_records(table)]


def to_csv(report: Report) -> str:
    """One row per result and per mean row; columns not of a row's year are empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in json_records(report):
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return buffer.getvalue()


def to_json(report: Report) -> str:
    data = {
        "results": json_records(report),
        "skipped": [{"path": str(path), "reason": reason} for path, reason in report.skipped],
    }
    return json.dumps(data, indent=2) + "\n"


RENDERERS = {"markdown": to_markdown, "csv": to_csv, "json": to_json, "html": to_html}
"""Text renderings by format name (the terminal table is drawn by the CLI)."""
