"""The published recipes, year defaults and published models, read once from recipes.yaml.

One source for each fact: a published model's best score is its recipe's
``detect.score``, its figure name the edition's official figure (``facts.yaml``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from aegan.dcase.facts import MachineType, edition
from aegan.errors import AeganError

RECIPES_FILE = "recipes.yaml"


@dataclass(frozen=True)
class PublishedModel:
    """A published checkpoint and the dev-set figure the paper reports for it (docs/method.md section 7)."""

    name: str
    year: int
    machine: str
    score: str
    figure: float  # the edition's official figure ("average" or "hmean"), in percent

    @property
    def figure_name(self) -> str:
        return edition(self.year).official_figure


@functools.cache
def _raw() -> dict[str, Any]:
    text = resources.files("aegan.config").joinpath(RECIPES_FILE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not {"defaults", "recipes"} <= set(data):
        raise AeganError(
            f"The recipes file {RECIPES_FILE} is invalid: it needs defaults and recipes."
        )
    return data


def year_defaults(year: int) -> dict[str, Any]:
    """Dotted config keys every machine type of a year starts from."""
    return dict(_raw()["defaults"].get(year) or {})


def recipe(machine: MachineType) -> dict[str, Any]:
    """The published config of a machine type (dotted keys); empty when none was published."""
    entry = (_raw()["recipes"].get(machine.year) or {}).get(machine.name) or {}
    return dict(entry.get("config") or {})


@functools.cache
def published_models() -> tuple[PublishedModel, ...]:
    """Every published model, in the order of recipes.yaml."""
    found = []
    for year, machines in _raw()["recipes"].items():
        for machine, entry in machines.items():
            published = entry.get("published")
            if published:
                kind = MachineType(int(year), machine)  # checks the spelling
                found.append(
                    PublishedModel(
                        name=str(published["model"]),
                        year=kind.year,
                        machine=kind.name,
                        score=str(entry["config"]["detect.score"]),
                        figure=float(published["figure"]),
                    )
                )
    return tuple(found)
