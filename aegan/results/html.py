"""The HTML report: one self-contained page with the result tables and ROC curves.

ROC curves of each row's chosen score are drawn from its ``scores.csv`` (one
curve per machine ID in 2020, per section in 2022) and embedded as PNG data
URIs, so the page is a single file that opens anywhere.
"""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path

import numpy as np

from aegan import plots
from aegan.dcase.facts import edition
from aegan.dcase.metrics import sanitize_scores
from aegan.paths import SCORES_FILE
from aegan.results.report import Report, ReportTable, ResultRow
from aegan.results.tables import is_text_column, table_cells, table_note, table_title


def read_scores(folder: Path, score: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(group, label, score) of every labelled clip in a results folder's ``scores.csv``."""
    with open(folder / SCORES_FILE, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("label") not in (None, "")]
    groups = [r["group"] for r in rows]
    labels = np.array([int(r["label"]) for r in rows])
    values = sanitize_scores([float(r[score]) for r in rows])
    return groups, labels, values


def roc_png(row: ResultRow) -> bytes | None:
    """ROC curves of the chosen score, one per machine ID (2020) or section (2022, all clips).

    None when the folder has no readable ``scores.csv`` or no group has both classes.
    """
    try:
        groups, labels, values = read_scores(row.folder, row.score)
    except (OSError, KeyError, ValueError):
        return None
    kind = "section" if edition(row.year).has_domains else "ID"
    return plots.roc_png(groups, labels, values, kind, f"{row.machine} · {row.model} · {row.score}")


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
td.num { text-align: right; }
tr.mean td { font-weight: bold; background: #f4f4f4; }
p.note { color: #555; font-size: 0.9em; }
.rocs { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
figcaption { font-size: 0.9em; color: #555; }
"""


def _html_table(table: ReportTable) -> str:
    head, body = table_cells(table)
    kinds = ["" if is_text_column(h) else ' class="num"' for h in head]
    lines = ["<table>", "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head)]
    lines.append("</tr></thead>\n<tbody>")
    for index, cells in enumerate(body):
        css = ' class="mean"' if index == len(body) - 1 else ""
        tds = "".join(f"<td{k}>{html.escape(c)}</td>" for k, c in zip(kinds, cells, strict=True))
        lines.append(f"<tr{css}>{tds}</tr>")
    return "\n".join([*lines, "</tbody>", "</table>"])


def _html_roc(row: ResultRow) -> str:
    caption = html.escape(f"{row.machine}, model {row.model}, {row.score}")
    png = roc_png(row)
    if png is None:
        return f"<figure><figcaption>{caption}: no labelled {SCORES_FILE} to draw</figcaption></figure>"
    data = base64.b64encode(png).decode("ascii")
    image = f'<img src="data:image/png;base64,{data}" alt="ROC curves: {caption}">'
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def _html_section(table: ReportTable) -> str:
    rocs = "\n".join(_html_roc(row) for row in table.rows)
    return (
        f"<h2>{html.escape(table_title(table))}</h2>\n{_html_table(table)}\n"
        f'<p class="note">{html.escape(table_note(table))}</p>\n'
        f'<h3>ROC curves of the chosen scores</h3>\n<div class="rocs">\n{rocs}\n</div>'
    )


def to_html(report: Report) -> str:
    """One self-contained page: inline CSS, the tables, and ROC curves as data URIs."""
    body = "\n".join(_html_section(table) for table in report.tables)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>AEGAN-AD results</title>\n<style>{HTML_STYLE}</style>\n</head>\n"
        f"<body>\n<h1>AEGAN-AD results</h1>\n{body}\n</body>\n</html>\n"
    )
