"""The report's tables as records and cells: what every rendering shows, in one place.

Records feed JSON and CSV; cells (text, percent with two decimals) feed the
terminal, markdown and HTML tables, so that every format shows the same figures.
"""

from __future__ import annotations

from typing import Any

from aegan.dcase.facts import edition
from aegan.owndata.folder import OWN_SUBSET
from aegan.results.report import FIGURES, TEXT_KEYS, ReportTable, ResultRow, percent, percent_text


def row_record(table: ReportTable, row: ResultRow) -> dict[str, Any]:
    """One result as flat data: names, and figures in percent (2 decimals) or None."""
    published = row.published
    return {
        "year": table.year, "subset": table.subset, "machine": row.machine,
        "model": row.model + (" (synthetic data)" if row.synthetic else ""), "score": row.score,
        **{key: percent(row.figures.get(key)) for key, _ in FIGURES[table.year]},
        "best_score": row.evaluation.best, "best_figure": percent(row.best_official),
        "published_figure": published.figure if published else None,
        "published_score": published.score if published else None,
        "difference": _rounded(row.difference), "folder": str(row.folder),
    }  # fmt: skip


def mean_record(table: ReportTable) -> dict[str, Any]:
    mean = table.mean
    return {
        "year": table.year, "subset": table.subset, "machine": mean.label,
        "model": None, "score": None,
        **{key: percent(mean.figures.get(key)) for key, _ in FIGURES[table.year]},
        "best_score": None, "best_figure": percent(mean.best_official),
        "published_figure": _rounded(mean.published), "published_score": None,
        "difference": _rounded(mean.difference), "folder": None,
    }  # fmt: skip


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def table_records(table: ReportTable) -> list[dict[str, Any]]:
    """The rows of a table, the mean row last."""
    return [row_record(table, row) for row in table.rows] + [mean_record(table)]


def columns(table: ReportTable) -> list[tuple[str, str]]:
    """(record key, header) of the displayed columns."""
    official = table.official_name
    return [
        ("machine", "machine"),
        *([("model", "model")] if table.shows_model else []),
        *FIGURES[table.year],
        ("score", "score"),
        ("best_score", "best score"),
        ("best_figure", f"best {official}"),
        ("published_figure", f"published {official}"),
        ("published_score", "published score"),
        ("difference", "difference"),
    ]


def cell(key: str, value: Any) -> str:
    if key in TEXT_KEYS:
        return "" if value is None else str(value)
    return percent_text(value, signed=key == "difference")


def table_cells(table: ReportTable) -> tuple[list[str], list[list[str]]]:
    """Header and body cells (the mean row last), figures in percent with 2 decimals."""
    shown = columns(table)
    body = [[cell(key, record[key]) for key, _ in shown] for record in table_records(table)]
    return [header for _, header in shown], body


def is_text_column(header: str) -> bool:
    return header in ("machine", "model", "score", "best score", "published score")


def table_title(table: ReportTable) -> str:
    if table.subset == OWN_SUBSET:
        return f"Own data sets, labelled test folders (DCASE {table.year} figures)"
    return f"DCASE {table.year}, {table.subset} test set"


def table_note(table: ReportTable) -> str:
    if edition(table.year).official_figure == "average":
        mean = "arithmetic mean over machine types"
    elif edition(table.year).domains == "separate":
        mean = "harmonic mean over all machine types, sections and domains (the challenge score)"
    else:
        mean = "harmonic mean over all machine types and sections (the challenge score)"
    if table.subset == OWN_SUBSET:
        mean = mean.replace("machine types", "data folders").removesuffix(" (the challenge score)")
    published = (
        "published: the paper's dev-set figure; difference: ours minus published, in points"
        if table.subset == "dev"
        else "own data is not compared with the paper"
        if table.subset == OWN_SUBSET
        else "published figures are dev-set figures, not compared here"
    )
    synthetic = (
        " Results on synthetic data (aegan.synth.dataset) are not compared with the paper."
        if any(row.synthetic for row in table.rows)
        else ""
    )
    return f"Figures in percent, of the chosen score; {table.mean.label}: {mean}; {published}.{synthetic}"
