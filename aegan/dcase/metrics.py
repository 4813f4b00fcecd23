"""DCASE Task 2 figures of merit, 2020 to 2026 (submission files: ``submission``).

The figures follow the original AEGAN-AD code and the official evaluators
(docs/method.md section 6), for all anomaly scores at once:

- 2020, per machine ID: AUC and pAUC (sklearn ``roc_auc_score`` with
  ``max_fpr``, the McClish-standardised partial AUC). Machine-type figures are
  the arithmetic means over IDs; ``average`` (their mean) is the official
  figure the original selects by.
- 2022, per section: ``auc_source`` over the source-domain clips plus the
  target-domain anomalies, ``auc_target`` symmetrically, ``pauc`` over all
  clips of the section (``auc``, over all clips, is the evaluator's
  "AUC (all)" column). ``hmean`` is the harmonic mean of all 3 x n_sections
  values, each floored at machine epsilon; it is the official figure. 2023 on
  (one section per machine type) the same, as nttcslab/dcase2023_task2_evaluator
  and dcase2024_task2_evaluator compute it.
- 2021, per section and domain (y-kawagu/dcase2021_task2_evaluator): AUC and
  pAUC of each domain over that domain's clips only (``auc_source``,
  ``pauc_source``, ``auc_target``, ``pauc_target``); ``hmean`` is the harmonic
  mean of all 4 x n_sections values, floored at machine epsilon.

Scores are made rankable first: NaN becomes float32 max (as the original
does), +-inf becomes +-float32 max.

A figure is undefined (NaN) when its set of clips holds one class only, e.g.
a section with no anomalies. Summaries are taken over the defined values and
are NaN only when none is defined; the group figures keep the NaN visible.
The best score is the one with the highest official figure, the first in
``SCORE_NAMES`` order on ties (as the original); None when no official figure
is defined.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from aegan.dcase.clips import Clip
from aegan.dcase.evaluation import Evaluation, GroupFigures, ScoreFigures
from aegan.dcase.facts import edition, editions
from aegan.errors import DataError
from aegan.score_names import SCORE_NAMES

MAX_FPR = 0.1
EPSILON = sys.float_info.epsilon
FLOAT32_MAX = float(np.finfo(np.float32).max)

_GROUP_COLUMNS = {
    None: (("auc", "AUC"), ("pauc", "pAUC")),
    "shared_anomalies": (("auc_source", "AUC src"), ("auc_target", "AUC tgt"), ("pauc", "pAUC")),
    "separate": (
        ("auc_source", "AUC src"),
        ("pauc_source", "pAUC src"),
        ("auc_target", "AUC tgt"),
        ("pauc_target", "pAUC tgt"),
    ),
}
"""(figure, header) per group, by how an edition treats domains (``facts.yaml`` domains)."""

OFFICIAL_FIGURE = {year: e.official_figure for year, e in editions().items()}
"""The summary key each year ranks scores and selects epochs by (``facts.yaml``)."""

GROUP_COLUMNS = {year: _GROUP_COLUMNS[e.domains] for year, e in editions().items()}
"""(figure, column header) of each year's per-ID / per-section figures."""
SUMMARY_COLUMNS = {
    year: (*GROUP_COLUMNS[year], (figure, figure)) for year, figure in OFFICIAL_FIGURE.items()
}
"""(summary key, column header) of each year's machine-type figures, as tables show them."""

# ---------------------------------------------------------------- figures


def sanitize_scores(scores: np.ndarray | Sequence[float]) -> np.ndarray:
    """Scores as float64 that every clip can be ranked by: NaN -> float32 max, +-inf clipped."""
    values = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=FLOAT32_MAX)
    return np.clip(values, -FLOAT32_MAX, FLOAT32_MAX)


def auc_columns(labels: np.ndarray, scores: np.ndarray, max_fpr: float | None = None) -> np.ndarray:
    """AUC (or pAUC with ``max_fpr``) of every score column; NaN when ``labels`` hold one class.

    One sklearn call scores all columns (its multilabel form computes each
    column's binary AUC exactly as the single-column call does).
    """
    n_columns = scores.shape[1]
    if labels.size == 0 or labels.min() == labels.max():
        return np.full(n_columns, np.nan)
    indicator = np.repeat(labels[:, None], n_columns, axis=1)
    return np.atleast_1d(roc_auc_score(indicator, scores, average=None, max_fpr=max_fpr)).astype(
        np.float64
    )


def mean_defined(values: np.ndarray) -> np.ndarray:
    """Arithmetic mean over axis 0 of the non-NaN values; NaN where there are none."""
    defined = ~np.isnan(values)
    total = np.where(defined, values, 0.0).sum(axis=0)
    count = defined.sum(axis=0)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def hmean_defined(values: np.ndarray) -> np.ndarray:
    """Harmonic mean over axis 0 of the non-NaN values, each floored at machine epsilon."""
    return 1.0 / mean_defined(1.0 / np.maximum(values, EPSILON))


def _group_figures(
    year: int, labels: np.ndarray, target: np.ndarray, scores: np.ndarray, max_fpr: float
) -> dict[str, np.ndarray]:
    """Every figure of one group, each an array over the score columns."""
    figures = {
        "auc": auc_columns(labels, scores),
        "pauc": auc_columns(labels, scores, max_fpr),
    }
    rule = edition(year).domains
    anomalous = labels == 1
    for domain, in_domain in (("source", ~target), ("target", target)):
        if rule == "shared_anomalies":
            chosen = in_domain | anomalous
            figures[f"auc_{domain}"] = auc_columns(labels[chosen], scores[chosen])
        elif rule == "separate":
            figures[f"auc_{domain}"] = auc_columns(labels[in_domain], scores[in_domain])
            figures[f"pauc_{domain}"] = auc_columns(labels[in_domain], scores[in_domain], max_fpr)
    return figures


def _summaries(year: int, figures: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Machine-type figures from the (n_groups, n_scores) arrays of group figures."""
    if OFFICIAL_FIGURE[year] == "average":
        auc, pauc = mean_defined(figures["auc"]), mean_defined(figures["pauc"])
        return {"auc": auc, "pauc": pauc, "average": (auc + pauc) / 2}
    columns = tuple(key for key, _ in GROUP_COLUMNS[year])
    summary = {key: hmean_defined(figures[key]) for key in columns}
    summary["hmean"] = hmean_defined(np.concatenate([figures[key] for key in columns]))
    return summary


def _tie_break_rank(name: str) -> int:
    """SCORE_NAMES order; other names after them, in the order given (the sort is stable)."""
    return SCORE_NAMES.index(name) if name in SCORE_NAMES else len(SCORE_NAMES)


def best_score(scores: Mapping[str, ScoreFigures]) -> str | None:
    """The score with the highest official figure, the first in SCORE_NAMES order on ties."""
    defined = [
        name
        for name in sorted(scores, key=_tie_break_rank)
        if not math.isnan(scores[name].official)
    ]
    return max(defined, key=lambda name: scores[name].official) if defined else None


def _common_value(clips: Sequence[Clip], attribute: str) -> Any:
    values = {getattr(clip, attribute) for clip in clips}
    if len(values) != 1:
        raise DataError(
            f"The clips of one evaluation must share one {attribute}; got {sorted(map(str, values))}.",
            "Evaluate each machine type of each year on its own.",
        )
    return values.pop()


def _require_labels(clips: Sequence[Clip], year: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (0/1) and a target-domain mask; a DataError when the clips lack them."""
    unlabelled = [clip for clip in clips if clip.label is None]
    if unlabelled:
        raise DataError(
            f"{len(unlabelled)} of {len(clips)} test clips have no label "
            f"(e.g. {unlabelled[0].name} in {unlabelled[0].path.parent}).",
            "Eval test clips need the official ground truth: read it with read_ground_truth "
            "and apply it with with_ground_truth.",
        )
    if edition(year).has_domains:
        no_domain = [clip for clip in clips if clip.domain not in ("source", "target")]
        if no_domain:
            raise DataError(
                f"{len(no_domain)} DCASE {year} test clips have no domain "
                f"(e.g. {no_domain[0].name} in {no_domain[0].path.parent}).",
                "Apply the official ground truth (ground_truth_domain) with with_ground_truth.",
            )
    labels = np.array([clip.label for clip in clips], dtype=np.int64)
    target = np.array([clip.domain == "target" for clip in clips], dtype=bool)
    return labels, target


def evaluate(
    clips: Sequence[Clip],
    scores: np.ndarray,
    names: Sequence[str] = SCORE_NAMES,
    max_fpr: float = MAX_FPR,
) -> Evaluation:
    """The figures of every score column on one machine's labelled test clips.

    ``scores`` is (n_clips, len(names)); column j holds score ``names[j]``.
    """
    if not clips:
        raise DataError("There are no test clips to evaluate.", "Check the dataset folder.")
    names = tuple(names)
    matrix = sanitize_scores(scores)
    if matrix.shape != (len(clips), len(names)) or len(set(names)) != len(names):
        raise DataError(
            f"Expected a ({len(clips)}, {len(names)}) score matrix with unique names; "
            f"got {matrix.shape} for {len(set(names))} distinct names.",
            "Give one score column per name, one row per clip.",
        )
    year = edition(int(_common_value(clips, "year"))).year
    labels, target = _require_labels(clips, year)
    group_of = np.array([clip.group for clip in clips])
    groups = sorted(set(group_of.tolist()))
    masks = [group_of == group for group in groups]
    per_group = [
        _group_figures(year, labels[mask], target[mask], matrix[mask], max_fpr) for mask in masks
    ]
    stacked = {key: np.stack([figures[key] for figures in per_group]) for key in per_group[0]}
    summaries = _summaries(year, stacked)
    counts = [int(mask.sum()) for mask in masks]
    results = {}
    for column, name in enumerate(names):
        group_figures = tuple(
            GroupFigures(
                group=group,
                n_clips=count,
                **{key: float(values[row, column]) for key, values in stacked.items()},
            )
            for row, (group, count) in enumerate(zip(groups, counts, strict=True))
        )
        summary = {key: float(values[column]) for key, values in summaries.items()}
        results[name] = ScoreFigures(name, group_figures, summary, summary[OFFICIAL_FIGURE[year]])
    return Evaluation(
        year=year,
        machine=str(_common_value(clips, "machine")),
        subset="+".join(sorted({clip.subset for clip in clips})),
        max_fpr=float(max_fpr),
        scores=results,
        best=best_score(results),
    )
