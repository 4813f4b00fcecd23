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


def borrowed_from(year: int) -> int | None:
    """The year whose recipes an edition without published ones borrows (recipes.yaml)."""
    borrow = _raw().get("borrow") or {}
    return int(borrow["from"]) if year in (borrow.get("years") or ()) else None


def year_defaults(year: int) -> dict[str, Any]:
    """Dotted config keys every machine type of a year starts from (borrowed where none)."""
    source = borrowed_from(year) or year
    return dict(_raw()["defaults"].get(source) or {})


def _own_recipe(year: int, name: str) -> dict[str, Any]:
    entry = (_raw()["recipes"].get(year) or {}).get(name) or {}
    return dict(entry.get("config") or {})


def _fit_subsets(machine: MachineType, config: dict[str, Any]) -> dict[str, Any]:
    """Train on the subsets that hold the machine type; no dev test set, no paper selection."""
    subsets = edition(machine.year).subsets_of(machine.name)
    if "dev" not in subsets:
        return {**config, "train_set": "eval", "train.select": "last"}
    if "eval" not in subsets and config.get("train_set", "dev") != "dev":
        return {**config, "train_set": "dev"}
    return config


def recipe(machine: MachineType) -> dict[str, Any]:
    """The config of a machine type's recipe (dotted keys): its published one, or borrowed.

    Editions without published recipes borrow (``recipes.yaml``, ``borrow``);
    empty when there is nothing to apply over the year's defaults.
    """
    own = _own_recipe(machine.year, machine.name)
    source = borrowed_from(machine.year)
    config = _own_recipe(source, machine.name) if source and not own else own
    return _fit_subsets(machine, config)


def recipe_origin(machine: MachineType) -> str:
    """Which recipe a machine type trains with, and why, in words (bundles, config show)."""
    year, name = machine.year, machine.name
    source = borrowed_from(year)
    if _own_recipe(year, name):
        text = f"the published DCASE {year} recipe of {name}"
    elif source is None:
        text = f"the DCASE {year} defaults (no recipe was published for {name})"
    elif _own_recipe(source, name):
        text = (
            f"the DCASE {source} recipe of {name}, "
            f"as no AEGAN-AD recipe was published for DCASE {year}"
        )
    else:
        text = (
            f"the DCASE {source} defaults, as no AEGAN-AD recipe was published for "
            f"DCASE {year} and DCASE {source} has none for {name}"
        )
    subsets = edition(year).subsets_of(name)
    if "dev" not in subsets:
        text += (
            f"; {name} is an eval-only machine type, so it trains on its eval training "
            "data and keeps the last epoch (there is no labelled dev test set)"
        )
    elif "eval" not in subsets:
        text += f"; {name} is not in the DCASE {year} eval set, so it trains on dev data only"
    return text


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
