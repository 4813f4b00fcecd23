"""Every ``aegan test`` result side by side with the published figures (docs/method.md sections 6, 7).

``collect`` reads each ``results.json`` under a folder and builds one table
per DCASE year and test set: a row per machine (and model), the chosen
score's machine-type figures, the best score, the paper's figure and score,
and the difference in points. Published figures are dev-set figures, so they
are compared with dev results only.

The mean row follows each year's challenge ranking: for 2020 the arithmetic
mean over machine types; from 2021 on the harmonic mean over all machine types
and sections of the chosen scores' per-section figures (2022 on AUC_source,
AUC_target and pAUC; 2021 AUC and pAUC of each domain), each column alone and
all together for "hmean". Each edition has its own table. The published
2022 mean is the harmonic mean of the published machine hmeans, which equals
the all-section figure because every machine has three dev sections. A
published mean is given only when every machine of the row has a published
figure. When a machine has several results, the mean takes its latest one.

Results on own data sets (``aegan test NAME --data DIR``) form their own table
per year of settings, a row per data folder, never compared with the paper.

Renderings: plain cells (for rich tables), GitHub markdown, CSV, JSON, and a
self-contained HTML page with ROC curves of the chosen scores (report_html).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aegan.bundles.registry import PublishedModel, published_for
from aegan.dcase.evaluation import Evaluation, GroupFigures
from aegan.dcase.facts import MACHINES, edition
from aegan.dcase.metrics import (
    GROUP_COLUMNS,
    OFFICIAL_FIGURE,
    SUMMARY_COLUMNS,
    hmean_defined,
    mean_defined,
)
from aegan.errors import DataError
from aegan.paths import RESULTS_FILE

FIGURES = SUMMARY_COLUMNS


def percent(value: float | None) -> float | None:
    """A fraction as percent with 2 decimals; None when undefined."""
    return None if value is None or math.isnan(value) else round(100 * value, 2)


def percent_text(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else f"{value:+.2f}" if signed else f"{value:.2f}"


# ---------------------------------------------------------------- collecting


@dataclass(frozen=True)
class ResultRow:
    """One results folder: the chosen score's figures (fractions) and the best score's."""

    year: int
    subset: str
    machine: str
    model: str
    created: str
    folder: Path
    score: str
    evaluation: Evaluation
    published: PublishedModel | None  # dev results on real data only
    synthetic: bool = False  # tested on aegan.synth.dataset data

    @property
    def figures(self) -> dict[str, float]:
        return self.evaluation.scores[self.score].summary

    @property
    def official(self) -> float:
        return self.evaluation.scores[self.score].official

    @property
    def best_official(self) -> float:
        best = self.evaluation.best
        return math.nan if best is None else self.evaluation.scores[best].official

    def groups(self, score: str | None) -> tuple[GroupFigures, ...]:
        return () if score is None else self.evaluation.scores[score].groups

    @property
    def difference(self) -> float | None:
        """Ours minus published, in points."""
        ours = percent(self.official)
        return None if ours is None or self.published is None else ours - self.published.figure


@dataclass(frozen=True)
class MeanRow:
    """The year's challenge figures over the machines of a table (see the module docstring)."""

    year: int
    label: str
    figures: dict[str, float]
    best_official: float
    published: float | None  # percent

    @property
    def difference(self) -> float | None:
        """Ours minus published, in points."""
        ours = percent(self.figures[OFFICIAL_FIGURE[self.year]])
        return None if ours is None or self.published is None else ours - self.published


@dataclass(frozen=True)
class ReportTable:
    year: int
    subset: str
    rows: list[ResultRow]
    mean: MeanRow

    @property
    def official_name(self) -> str:
        return OFFICIAL_FIGURE[self.year]

    @property
    def shows_model(self) -> bool:
        """A model column only where a machine has results of several models."""
        machines = [row.machine for row in self.rows]
        return len(set(machines)) < len(machines)


@dataclass
class Report:
    tables: list[ReportTable]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def read_row(path: Path) -> ResultRow:
    """One ``results.json``; a DataError says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("evaluation") is None:
            raise DataError(f"{path} has no figures (its test clips had no labels).")
        evaluation = Evaluation.from_dict(data["evaluation"])
        year, machine, subset = int(data["year"]), str(data["machine"]), str(data["subset"])
        if data.get("data"):  # an own data set: its folder names the row, not the settings
            machine = Path(data["data"]).name
        if year not in FIGURES:
            raise DataError(f"{path} is for DCASE {year}, which aegan does not know.")
        score = str(data["chosen_score"])
        if score not in evaluation.scores:
            raise DataError(f"{path} has no figures of its chosen score {score}.")
        return ResultRow(
            year=year,
            subset=subset,
            machine=machine,
            model=str(data.get("model") or path.parent.parent.name),
            created=str(data.get("created", "")),
            folder=path.parent,
            score=score,
            evaluation=evaluation,
            published=(
                published_for(year, machine)
                if subset == "dev" and not data.get("synthetic_data")
                else None
            ),
            synthetic=bool(data.get("synthetic_data")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"Cannot read {path}: {type(exc).__name__}: {exc}.") from None


def mean_row(year: int, rows: Sequence[ResultRow]) -> MeanRow:
    """The year's challenge figures over the latest result of each machine."""
    latest: dict[str, ResultRow] = {}
    for row in sorted(rows, key=lambda r: r.created):
        latest[row.machine] = row
    chosen = list(latest.values())
    label = "mean" if len(chosen) == len(rows) else "mean (latest per machine)"
    published = [row.published.figure for row in chosen if row.published is not None]
    complete = len(published) == len(chosen)
    if edition(year).official_figure == "average":
        figures = {key: _mean([r.figures[key] for r in chosen]) for key, _ in FIGURES[year]}
        best = _mean([r.best_official for r in chosen])
        return MeanRow(year, label, figures, best, float(np.mean(published)) if complete else None)
    figures = section_hmeans(year, [g for r in chosen for g in r.groups(r.score)])
    best = section_hmeans(year, [g for r in chosen for g in r.groups(r.evaluation.best)])["hmean"]
    published_mean = len(published) / sum(1 / p for p in published) if complete else None
    return MeanRow(year, label, figures, best, published_mean)


def _mean(values: Sequence[float]) -> float:
    return float(mean_defined(np.array(values, dtype=float)))


def section_hmeans(year: int, groups: Sequence[GroupFigures]) -> dict[str, float]:
    """Harmonic means over sections of each of the year's section figures, and of all together."""
    if not groups:
        return {key: math.nan for key, _ in FIGURES[year]}
    keys = [key for key, _ in GROUP_COLUMNS[year]]
    values = {key: np.array([getattr(g, key) for g in groups], float) for key in keys}
    figures = {key: float(hmean_defined(v)) for key, v in values.items()}
    figures["hmean"] = float(hmean_defined(np.concatenate(list(values.values()))))
    return figures


def machine_order(row: ResultRow) -> tuple[int, str, str]:
    known = MACHINES.get(row.year, ())
    rank = known.index(row.machine) if row.machine in known else len(known)
    return rank, row.machine, row.model


def collect(folder: Path) -> Report:
    """Every readable ``results.json`` under ``folder``, as tables by year and test set."""
    folder = Path(folder)
    rows, skipped = [], []
    for path in sorted(folder.rglob(RESULTS_FILE)) if folder.is_dir() else []:
        try:
            rows.append(read_row(path))
        except DataError as exc:
            skipped.append((path, exc.message))
    if not rows:
        raise DataError(
            f"No test results under {folder}.",
            "Run `aegan test MACHINE --year YY` first (or point --results at its folder).",
        )
    tables = []
    for year, subset in sorted({(r.year, r.subset) for r in rows}):
        members = sorted(
            (r for r in rows if (r.year, r.subset) == (year, subset)), key=machine_order
        )
        tables.append(ReportTable(year, subset, members, mean_row(year, members)))
    return Report(tables, skipped)


TEXT_KEYS = ("machine", "model", "score", "best_score", "published_score")
