"""The decision figures: precision, recall and F1 of the 0/1 decisions, per section and domain.

They are computed as the official 2024 evaluator (nttcslab/dcase2024_task2_evaluator)
computes them from a decision file: within one section, over the clips of one
domain only (its normal clips and its anomalies, unlike the AUC of a domain,
which adds the other domain's anomalies), with the anomaly as the positive
class. A division by zero is guarded as the evaluator guards it: each
denominator is floored at machine epsilon, so no predicted anomaly gives
precision 0, and precision and recall both 0 give F1 0. Clips without a domain
(DCASE 2020 machine IDs, own data) form one group, named ``all``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from aegan.dcase.clips import Clip

EPSILON = sys.float_info.epsilon
"""The evaluator's floor under every denominator."""
NO_DOMAIN = "all"
DOMAIN_ORDER = ("source", "target", NO_DOMAIN)


@dataclass(frozen=True)
class DecisionFigures:
    """The decisions of one section (or machine ID) and domain, counted and summarised."""

    group: str
    domain: str
    n_clips: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_positives, EPSILON)

    @property
    def recall(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_negatives, EPSILON)

    @property
    def f1(self) -> float:
        precision, recall = self.precision, self.recall
        return 2.0 * precision * recall / max(precision + recall, EPSILON)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


def _counts(labels: np.ndarray, decided: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of 0/1 labels against boolean decisions."""
    truth = labels.astype(bool)
    return (
        int(np.sum(truth & decided)),
        int(np.sum(~truth & decided)),
        int(np.sum(truth & ~decided)),
        int(np.sum(~truth & ~decided)),
    )


def decision_figures(clips: Sequence[Clip], decisions: np.ndarray) -> list[DecisionFigures]:
    """The figures of every section (in name order) and domain (source, target) of labelled clips."""
    decided = np.asarray(decisions, dtype=bool)
    if len(decided) != len(clips):
        raise ValueError(f"{len(decided)} decisions for {len(clips)} clips")
    labels = np.array([clip.label for clip in clips], dtype=np.int64)
    keys = [(clip.group, clip.domain or NO_DOMAIN) for clip in clips]
    ordered = sorted(set(keys), key=lambda key: (key[0], DOMAIN_ORDER.index(key[1])))
    figures = []
    for group, domain in ordered:
        mine = np.array([key == (group, domain) for key in keys])
        counts = _counts(labels[mine], decided[mine])
        figures.append(DecisionFigures(group, domain, int(mine.sum()), *counts))
    return figures


def decisions_record(
    figures: Sequence[DecisionFigures], score: str, threshold: float
) -> dict[str, Any]:
    """The JSON form in results.json: which score and threshold decided, and each group's figures."""
    return {
        "score": score,
        "threshold": threshold,
        "groups": [item.to_dict() for item in figures],
    }
