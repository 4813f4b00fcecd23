"""The figures of an evaluation as records: per machine ID or section, per score, and
the machine type's summary; their JSON form (NaN written as null), as results.json
holds them. ``aegan.dcase.metrics`` computes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aegan.errors import DataError

_DOMAIN_PAUC = ("pauc_source", "pauc_target")


@dataclass(frozen=True)
class GroupFigures:
    """The figures of one machine ID (2020) or section (2022) for one score.

    ``auc`` is over all clips of the group; ``auc_source`` and ``auc_target``
    exist where domains do (2021 on), ``pauc_source`` and ``pauc_target`` in
    2021 only. NaN marks a figure whose clips hold one class only.
    """

    group: str
    n_clips: int
    auc: float
    pauc: float
    auc_source: float | None = None
    auc_target: float | None = None
    pauc_source: float | None = None
    pauc_target: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"group": self.group, "n_clips": self.n_clips}
        for key in ("auc", "auc_source", "auc_target", "pauc", *_DOMAIN_PAUC):
            value = getattr(self, key)
            if value is not None:
                data[key] = _json_float(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupFigures:
        optional = {
            key: _read_float(data[key])
            for key in ("auc_source", "auc_target", *_DOMAIN_PAUC)
            if key in data
        }
        return cls(
            group=str(data["group"]),
            n_clips=int(data["n_clips"]),
            auc=_read_float(data["auc"]),
            pauc=_read_float(data["pauc"]),
            **optional,
        )


@dataclass(frozen=True)
class ScoreFigures:
    """All figures of one anomaly score: per group, the machine-type summary, the official one."""

    name: str
    groups: tuple[GroupFigures, ...]
    summary: dict[str, float]
    official: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "official": _json_float(self.official),
            "summary": {key: _json_float(value) for key, value in self.summary.items()},
            "groups": [group.to_dict() for group in self.groups],
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> ScoreFigures:
        return cls(
            name=name,
            groups=tuple(GroupFigures.from_dict(group) for group in data["groups"]),
            summary={key: _read_float(value) for key, value in data["summary"].items()},
            official=_read_float(data["official"]),
        )


@dataclass(frozen=True)
class Evaluation:
    """The figures of every score on one machine's test clips, and the best score.

    ``subset`` says which test set the clips came from ("dev", "eval", or
    "dev+eval" for a mix).
    """

    year: int
    machine: str
    subset: str
    max_fpr: float
    scores: dict[str, ScoreFigures]
    best: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (NaN written as null), for results.json."""
        return {
            "year": self.year,
            "machine": self.machine,
            "subset": self.subset,
            "max_fpr": self.max_fpr,
            "best": self.best,
            "scores": {name: figures.to_dict() for name, figures in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        try:
            return cls(
                year=int(data["year"]),
                machine=str(data["machine"]),
                subset=str(data["subset"]),
                max_fpr=float(data["max_fpr"]),
                scores={
                    name: ScoreFigures.from_dict(name, figures)
                    for name, figures in data["scores"].items()
                },
                best=None if data["best"] is None else str(data["best"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"Not a valid aegan evaluation record ({type(exc).__name__}: {exc}).",
                "Run `aegan test` again to rewrite the results file.",
            ) from None


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _read_float(value: float | None) -> float:
    return math.nan if value is None else float(value)
