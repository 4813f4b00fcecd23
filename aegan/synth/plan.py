"""The plan of a synthetic DCASE tree: what ``SynthSpec`` asks for, and every clip's
name and the facts behind it (machine, subset, split, section or machine ID,
domain, label, anomaly kind), named as the real data of the year is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aegan.dcase.facts import MACHINES, MachineType, edition, parse_year
from aegan.errors import UsageError
from aegan.synth.sound import ANOMALY_KINDS, TARGET_CONDITION

SUBSETS = ("dev", "eval")

# Machine IDs of the synthetic dev and eval sets, in editions named by machine ID (2020).
DEV_IDS = ("00", "02", "04")
EVAL_IDS = ("01", "03", "05")

MIN_SECONDS = 0.5
MIN_SAMPLE_RATE = 8000

# Attribute keys of section-named clips (2022) and their value per condition:
# source 0, source 1, target. Other machine types get _OTHER_ATTRIBUTES.
_ATTRIBUTES: dict[str, tuple[tuple[str, tuple[str, str, str]], ...]] = {
    "bearing": (("vel", ("6", "10", "14")), ("loc", ("A", "B", "C"))),
    "fan": (("m-n", ("W", "X", "Y")),),
    "gearbox": (("volt", ("1.0", "1.3", "1.5")), ("wt", ("30", "80", "130"))),
    "slider": (("vel", ("300", "500", "900")), ("ac", ("0.03", "0.05", "0.08"))),
    "ToyCar": (("car", ("A1", "A2", "B1")), ("spd", ("28V", "31V", "34V")), ("mic", ("1", "1", "2"))),
    "ToyTrain": (("car", ("A1", "A2", "B1")), ("spd", ("6", "8", "10")), ("mic", ("1", "1", "2"))),
    "valve": (("pat", ("00_01", "02_03", "04_05")), ("panel", ("open", "b-c", "s-c"))),
}  # fmt: skip
_OTHER_ATTRIBUTES = (("noise", ("1", "2", "3")),)


@dataclass(frozen=True)
class SynthSpec:
    """What to synthesise; counts are per section (2022) or machine ID (2020).

    ``train_source``: training clips (2022: source domain; 2020: all).
    ``train_target``: 2022 target-domain training clips (ignored for 2020).
    ``test_normal`` / ``test_anomaly``: test clips per section and domain (2022)
    or per machine ID (2020). ``anomaly_strength`` scales how far anomalies
    depart from normal: below 1 makes detection harder. ``far_noise_db``, when
    set, makes every clip two-channel as in DCASE 2026 (``aegan.synth.stereo``):
    the machine near and far, in surroundings this many dB from the machine.
    """

    year: int = 2022
    machines: tuple[str, ...] = ("fan",)
    seconds: float = 10.0
    sample_rate: int = 16000
    train_source: int = 20
    train_target: int = 3
    test_normal: int = 10
    test_anomaly: int = 10
    subsets: tuple[str, ...] = SUBSETS
    seed: int = 0
    anomaly_strength: float = 1.0
    far_noise_db: float | None = None

    def __post_init__(self) -> None:
        year = parse_year(self.year)
        machines = tuple(MachineType.parse(year, m).name for m in _as_tuple(self.machines))
        subsets = _as_tuple(self.subsets)
        _check_spec_values(self, machines, subsets)
        object.__setattr__(self, "year", year)
        object.__setattr__(self, "machines", tuple(dict.fromkeys(machines)))
        object.__setattr__(self, "subsets", tuple(s for s in SUBSETS if s in subsets))

    @property
    def samples_per_clip(self) -> int:
        return round(self.seconds * self.sample_rate)


@dataclass(frozen=True)
class PlannedClip:
    """One file to write and the facts behind its name."""

    machine: str
    subset: str
    split: str
    group: str
    name: str
    label: int
    domain: str | None
    condition: int
    kind: str | None
    key: tuple[int, ...]
    labelled_name: str = ""

    @property
    def relative_path(self) -> Path:
        return Path(f"{self.subset}_data", self.machine, self.split, self.name)


def _as_tuple(value: Iterable[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _check_spec_values(
    spec: SynthSpec, machines: tuple[str, ...], subsets: tuple[str, ...]
) -> None:
    """Reject values that would write a tree nobody can use."""
    problems = []
    if not machines:
        problems.append("machines is empty")
    if not subsets or any(s not in SUBSETS for s in subsets):
        problems.append(f"subsets must name some of {', '.join(SUBSETS)}, got {subsets!r}")
    if spec.seconds < MIN_SECONDS:
        problems.append(f"seconds must be at least {MIN_SECONDS}, got {spec.seconds}")
    if spec.sample_rate < MIN_SAMPLE_RATE:
        problems.append(f"sample_rate must be at least {MIN_SAMPLE_RATE}, got {spec.sample_rate}")
    if spec.train_source < 1:
        problems.append(f"train_source must be at least 1, got {spec.train_source}")
    counts = {n: getattr(spec, n) for n in ("train_target", "test_normal", "test_anomaly")}
    problems += [f"{n} must not be negative, got {v}" for n, v in counts.items() if v < 0]
    if spec.anomaly_strength <= 0:
        problems.append(f"anomaly_strength must be positive, got {spec.anomaly_strength}")
    if spec.far_noise_db is not None and not -60 <= spec.far_noise_db <= 20:
        problems.append(f"far_noise_db must be in [-60, 20] dB, got {spec.far_noise_db}")
    if problems:
        raise UsageError(f"Invalid synthetic data spec: {'; '.join(problems)}.")


# --- naming -------------------------------------------------------------------


def _by_section(year: int) -> bool:
    """Whether the year names clips by section and domain (2021 on) or by machine ID (2020)."""
    return edition(year).naming == "section"


def groups_of(year: int, subset: str) -> tuple[str, ...]:
    """Sections (2022) or machine IDs (2020) that a subset holds."""
    if _by_section(year):
        return edition(year).sections[subset]
    return DEV_IDS if subset == "dev" else EVAL_IDS


def _attribute_tail(machine: str, condition: int) -> str:
    attributes = _ATTRIBUTES.get(machine, _OTHER_ATTRIBUTES)
    return "_".join(f"{key}_{values[condition]}" for key, values in attributes)


def _section_name(group: str, domain: str, split: str, label: int, index: int, tail: str) -> str:
    label_name = "anomaly" if label else "normal"
    return f"section_{group}_{domain}_{split}_{label_name}_{index:04d}_{tail}.wav"


def _machine_id_name(group: str, label: int, index: int) -> str:
    return f"{'anomaly' if label else 'normal'}_id_{group}_{index:08d}.wav"


def _clip_groups(spec: SynthSpec, split: str) -> list[tuple[str | None, int, int]]:
    """(domain, label, count) of the clips one group holds in a split."""
    domains: tuple[str | None, ...] = ("source", "target") if _by_section(spec.year) else (None,)
    if split == "train":
        counts = {"source": spec.train_source, "target": spec.train_target, None: spec.train_source}
        return [(d, 0, counts[d]) for d in domains]
    return [
        (d, label, n)
        for d in domains
        for label, n in ((0, spec.test_normal), (1, spec.test_anomaly))
    ]


def _plan_group(
    spec: SynthSpec, machine: str, subset: str, split: str, group: str
) -> list[PlannedClip]:
    """The clips of one machine, subset, split and group, named as the real data is."""
    machine_index = MACHINES[spec.year].index(machine)
    by_section = _by_section(spec.year)
    clips = []
    for domain, label, count in _clip_groups(spec, split):
        for i in range(count):
            condition = TARGET_CONDITION if domain == "target" else (i % 2 if by_section else 0)
            if by_section:
                tail = _attribute_tail(machine, condition)
                name = _section_name(group, str(domain), split, label, i, tail)
            else:
                name = _machine_id_name(group, label, i)
            key = (
                spec.year,
                machine_index,
                int(group),
                int(domain == "target"),
                int(split == "test"),
                label,
                i,
            )
            kind = ANOMALY_KINDS[i % len(ANOMALY_KINDS)] if label else None
            clips.append(
                PlannedClip(
                    machine, subset, split, group, name, label, domain, condition, kind, key
                )
            )
    if subset == "eval" and split == "test":
        clips = _unlabelled(spec, clips)
    return clips


def _unlabelled(spec: SynthSpec, clips: list[PlannedClip]) -> list[PlannedClip]:
    """Shuffle eval test clips and give them the label-free names the challenge used."""
    if not clips:
        return clips
    first = clips[0]
    rng = np.random.default_rng([spec.seed, *first.key[:3], 99])
    order = rng.permutation(len(clips))
    prefix, digits = ("section", 4) if _by_section(spec.year) else ("id", 8)
    separate = edition(spec.year).domains == "separate"  # 2021: section_03_source_test_0000.wav
    renamed = []
    for position, clip in zip(order, clips, strict=True):
        middle = f"{clip.domain}_test_" if separate else ""
        name = f"{prefix}_{clip.group}_{middle}{int(position):0{digits}d}.wav"
        renamed.append(dataclasses.replace(clip, name=name, labelled_name=clip.name))
    return sorted(renamed, key=lambda c: c.name)


def plan_clips(spec: SynthSpec) -> list[PlannedClip]:
    """Every clip ``spec`` describes, in writing order."""
    facts = edition(spec.year)
    return [
        clip
        for machine in spec.machines
        for subset in spec.subsets
        if subset in facts.subsets_of(machine)  # 2023 on: a type is in dev or eval only
        for group in groups_of(spec.year, subset)
        for split in ("train", "test")
        for clip in _plan_group(spec, machine, subset, split, group)
    ]
