"""The DCASE Task 2 editions as data, and the one parsed value of a year and machine type.

Every fact about an edition (machine types, file-name scheme, sections, official
figure, Zenodo archives, where the eval ground truth is published) lives in
``facts.yaml`` next to this module, read once. A year and a machine type given
by a user (``22``, ``"2022"``, ``"toycar"``) are parsed once, where they enter,
into a ``MachineType``; the library takes canonical values from then on.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from aegan.errors import AeganError, UsageError, did_you_mean

FACTS_FILE = "facts.yaml"

NAMINGS = ("machine_id", "section")
"""File-name schemes: ``normal_id_00_00000000.wav`` (2020), ``section_00_source_...`` (2021 on)."""
FIGURES = ("average", "hmean")
"""Official figures: mean of AUC and pAUC (2020), harmonic mean over sections (2021 on)."""
TRUTH_FORMATS = ("eval_data_list", "per_section")
DOMAIN_RULES = ("separate", "shared_anomalies")
"""How figures treat domains: each on its own clips (2021), or with the section's anomalies (2022 on)."""
SUBSETS = ("dev", "eval")


@dataclass(frozen=True)
class ArchiveFact:
    """One Zenodo zip of a machine type; ``file`` holds ``{machine}``."""

    record: int
    file: str
    subset: str
    splits: tuple[str, ...]
    renamed: Mapping[str, str] = field(default_factory=dict)
    extra: tuple[str, ...] = ()

    def file_of(self, machine: str) -> str:
        """The zip's name for one machine type (a re-published zip has its own name)."""
        return self.renamed.get(machine) or self.file.format(machine=machine)


@dataclass(frozen=True)
class GroundTruthFact:
    """Where an edition's eval labels are published, and in which layout.

    ``files`` maps a role (``list``; or ``labels`` and ``domains``) to a path
    relative to the evaluator's root, with ``{machine}`` and ``{section}``.
    The files come from a Zenodo record or a GitHub repository at ``github_ref``.
    """

    format: str
    files: Mapping[str, str]
    zenodo_record: int | None = None
    github_repo: str | None = None
    github_ref: str = "main"

    @property
    def published(self) -> bool:
        """Whether the labels can be downloaded (else only a --ground-truth DIR has them)."""
        return self.zenodo_record is not None or self.github_repo is not None


@dataclass(frozen=True)
class Edition:
    """One DCASE Task 2 edition, as ``facts.yaml`` states it."""

    year: int
    machines: tuple[str, ...]
    naming: str
    official_figure: str
    archives: tuple[ArchiveFact, ...]
    ground_truth: GroundTruthFact | None
    sections: Mapping[str, tuple[str, ...]]
    subset_machines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    domains: str | None = None
    supplemental: str | None = None
    attributeless: str | None = None
    microphones: Mapping[str, int] = field(default_factory=dict)

    def machines_in(self, subset: str) -> tuple[str, ...]:
        """The machine types of the dev or eval set (2023 on they differ)."""
        return self.subset_machines.get(subset, self.machines)

    def subsets_of(self, machine: str) -> tuple[str, ...]:
        """The subsets (dev, eval) that hold a machine type."""
        return tuple(s for s in SUBSETS if machine in self.machines_in(s))

    @property
    def has_domains(self) -> bool:
        """Section-named editions split each section into a source and a target domain."""
        return self.naming == "section"

    @property
    def group_kind(self) -> str:
        """What the figures are computed per: "machine ID" (2020) or "section"."""
        return "section" if self.naming == "section" else "machine ID"


def short_year(year: int) -> str:
    """``22`` for 2022: how ``--year`` and config keys (``data.root22``) name a year."""
    return f"{year % 100:02d}"


# ---------------------------------------------------------------- loading


class FactsError(AeganError):
    """A broken ``facts.yaml``: the installation is damaged or was edited wrongly."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise FactsError(f"The DCASE facts file {FACTS_FILE} is invalid: {what}.")


@functools.cache
def _raw_facts() -> dict[str, Any]:
    text = resources.files("aegan.dcase").joinpath(FACTS_FILE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    _require(isinstance(data, dict) and "editions" in data, "it has no 'editions'")
    return data


def _edition(year: int, raw: Mapping[str, Any]) -> Edition:
    naming, figure = raw.get("naming"), raw.get("official_figure")
    _require(naming in NAMINGS, f"{year}: naming must be one of {', '.join(NAMINGS)}")
    _require(figure in FIGURES, f"{year}: official_figure must be one of {', '.join(FIGURES)}")
    sections = {subset: tuple(groups) for subset, groups in (raw.get("sections") or {}).items()}
    _require(naming != "section" or bool(sections.get("eval")), f"{year}: sections.eval is missing")
    domains = raw.get("domains")
    _require(
        (naming == "section") == (domains in DOMAIN_RULES),
        f"{year}: domains must be one of {', '.join(DOMAIN_RULES)} exactly where naming is section",
    )
    machines = raw["machines"]
    per_subset = (
        {s: tuple(machines.get(s) or ()) for s in SUBSETS} if isinstance(machines, dict) else {}
    )
    _require(not per_subset or all(per_subset.values()), f"{year}: machines.dev or .eval is empty")
    every = tuple(dict.fromkeys(m for s in SUBSETS for m in per_subset.get(s, machines)))
    return Edition(
        year=int(year),
        machines=every,
        naming=naming,
        official_figure=figure,
        archives=tuple(
            ArchiveFact(
                int(a["record"]),
                a["file"],
                a["subset"],
                tuple(a["splits"]),
                dict(a.get("renamed") or {}),
                tuple(a.get("extra") or ()),
            )
            for a in raw["archives"]
        ),
        ground_truth=_ground_truth(year, raw.get("ground_truth")),
        sections=sections,
        subset_machines=per_subset,
        domains=domains,
        supplemental=raw.get("supplemental"),
        attributeless=raw.get("attributeless"),
        microphones={
            str(role): int(index) for role, index in (raw.get("microphones") or {}).items()
        },
    )


def _ground_truth(year: int, raw: Mapping[str, Any] | None) -> GroundTruthFact | None:
    if raw is None:
        return None
    truth = dict(raw)
    _require(
        truth.get("format") in TRUTH_FORMATS,
        f"{year}: ground_truth.format must be one of {', '.join(TRUTH_FORMATS)}",
    )
    return GroundTruthFact(**{**truth, "files": dict(truth["files"])})


@functools.cache
def editions() -> dict[int, Edition]:
    """Every edition, by year, in the order of ``facts.yaml``."""
    return {int(year): _edition(int(year), raw) for year, raw in _raw_facts()["editions"].items()}


@functools.cache
def attribute_keys() -> frozenset[str]:
    """The attribute keys of section-named files (``vel``, ``loc``, ``pat``, ...)."""
    return frozenset(str(key) for key in _raw_facts()["attribute_keys"])


YEARS: tuple[int, ...] = tuple(editions())
MACHINES: dict[int, tuple[str, ...]] = {year: e.machines for year, e in editions().items()}


# ---------------------------------------------------------------- parsing at the edge


def _year_hint() -> str:
    options = [f"--year {short_year(y)}" for y in YEARS]
    if len(options) > 3:  # a range reads better than seven options
        return (
            f"Use --year {short_year(YEARS[0])} to {short_year(YEARS[-1])} "
            f"(or {YEARS[0]} to {YEARS[-1]}); the editions are {', '.join(map(str, YEARS))}."
        )
    listed = options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"
    return f"Use {listed} (or {' / '.join(str(y) for y in YEARS)})."


def parse_year(year: int | str) -> int:
    """A DCASE year as given by a user (20 to 26 or 2020 to 2026, as int or str) -> 2020..2026."""
    text = str(year).strip()
    value = int(text) if text.isdigit() else -1
    if value < 100 and 2000 + value in YEARS:
        value += 2000
    if value not in YEARS:
        raise UsageError(f"Unknown DCASE year {year!r}.", _year_hint())
    return value


def edition(year: int) -> Edition:
    """The facts of a canonical year (2020, 2022); a user's spelling goes through parse_year."""
    found = editions().get(year) if isinstance(year, int) else None
    if found is None:
        raise UsageError(f"Unknown DCASE year {year!r}.", _year_hint())
    return found


@dataclass(frozen=True)
class MachineType:
    """A machine type of one DCASE edition, in the official spelling (``ToyCar``, 2022)."""

    year: int
    name: str

    def __post_init__(self) -> None:
        if self.name not in edition(self.year).machines:
            raise UsageError(f"{self.name!r} is not a DCASE {self.year} machine type.")

    @classmethod
    def parse(cls, year: int | str, machine: str) -> MachineType:
        """A year and machine type as a user gives them: any year spelling, any letter case."""
        value = parse_year(year)
        valid = MACHINES[value]
        given = machine.strip()
        for name in valid:
            if name.lower() == given.lower():
                return cls(value, name)
        suggestion = did_you_mean(given, valid, otherwise="", n=1)
        raise UsageError(
            f"Unknown machine type {machine!r} for DCASE {value}."
            + (f" {suggestion}" if suggestion else ""),
            f"Valid machine types for {value}: {', '.join(valid)}.",
        )

    @property
    def short_year(self) -> str:
        return short_year(self.year)
