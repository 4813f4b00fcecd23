"""Synthetic machine sounds in the DCASE 2020 / 2022 Task 2 layout.

Demos and tests need data with the real tree, the real file names and real
normal/anomalous differences, without a 100 GB download. ``write_dataset``
writes such a tree under a root::

    <root>/dev_data/<machine>/{train,test}/*.wav
    <root>/eval_data/<machine>/{train,test}/*.wav
    <root>/ground_truth/...            labels of the unlabelled eval test clips

Ground truth of the eval test clips, in the official evaluators' formats
(no header, one row per clip, sorted by file name):

- 2022 (Kota-Dohi/dcase2022_evaluator), per machine type and eval section:
  ``ground_truth/ground_truth_data/ground_truth_<mt>_section_<ss>_test.csv``
  with rows ``section_03_0000.wav,<0 normal | 1 anomaly>`` and
  ``ground_truth/ground_truth_domain/ground_truth_<mt>_section_<ss>_test.csv``
  with rows ``section_03_0000.wav,<0 source | 1 target>``.
- 2020 (y-kawagu/dcase2020_task2_evaluator): one ``ground_truth/eval_data_list.csv``
  holding, per machine type, a line with the type's name followed by rows
  ``id_01_00000003.wav,anomaly_id_01_00000001.wav,1`` (eval name, the name it
  would have in the dev naming, label).

The sound of each clip (the machine voice and the anomalies) lives in
``aegan.synth.sound``; this module plans the tree, names the clips and writes them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.dcase.clips import (
    DEV_SECTIONS_2022,
    EVAL_SECTIONS_2022,
    MACHINES,
    SYNTHETIC_MARKER,
    canonical_machine,
    list_audio,
    normalize_year,
)
from aegan.dcase.ground_truth import GROUND_TRUTH_DIR
from aegan.errors import DataError, UsageError
from aegan.paths import atomic_path, write_text_atomic
from aegan.progress import Progress, no_progress
from aegan.synth.sound import ANOMALY_KINDS, TARGET_CONDITION, synthesize_pcm16

SUBSETS = ("dev", "eval")

DEV_IDS_2020 = ("00", "02", "04")
EVAL_IDS_2020 = ("01", "03", "05")

MIN_SECONDS = 0.5
MIN_SAMPLE_RATE = 8000

# 2022 attribute keys and their value per condition: source 0, source 1, target.
_ATTRIBUTES_2022: dict[str, tuple[tuple[str, tuple[str, str, str]], ...]] = {
    "bearing": (("vel", ("6", "10", "14")), ("loc", ("A", "B", "C"))),
    "fan": (("m-n", ("W", "X", "Y")),),
    "gearbox": (("volt", ("1.0", "1.3", "1.5")), ("wt", ("30", "80", "130"))),
    "slider": (("vel", ("300", "500", "900")), ("ac", ("0.03", "0.05", "0.08"))),
    "ToyCar": (("car", ("A1", "A2", "B1")), ("spd", ("28V", "31V", "34V")), ("mic", ("1", "1", "2"))),
    "ToyTrain": (("car", ("A1", "A2", "B1")), ("spd", ("6", "8", "10")), ("mic", ("1", "1", "2"))),
    "valve": (("pat", ("00_01", "02_03", "04_05")), ("panel", ("open", "b-c", "s-c"))),
}  # fmt: skip


@dataclass(frozen=True)
class SynthSpec:
    """What to synthesise; counts are per section (2022) or machine ID (2020).

    ``train_source``: training clips (2022: source domain; 2020: all).
    ``train_target``: 2022 target-domain training clips (ignored for 2020).
    ``test_normal`` / ``test_anomaly``: test clips per section and domain (2022)
    or per machine ID (2020). ``anomaly_strength`` scales how far anomalies
    depart from normal: below 1 makes detection harder.
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

    def __post_init__(self) -> None:
        year = normalize_year(self.year)
        machines = tuple(canonical_machine(year, m) for m in _as_tuple(self.machines))
        subsets = _as_tuple(self.subsets)
        _check_spec_values(self, machines, subsets)
        object.__setattr__(self, "year", year)
        object.__setattr__(self, "machines", tuple(dict.fromkeys(machines)))
        object.__setattr__(self, "subsets", tuple(s for s in SUBSETS if s in subsets))

    @property
    def samples_per_clip(self) -> int:
        return round(self.seconds * self.sample_rate)


@dataclass(frozen=True)
class SynthSummary:
    """What was written: clip counts keyed (machine, subset, split, group)."""

    root: Path
    counts: dict[tuple[str, str, str, str], int]
    ground_truth: tuple[Path, ...] = field(default=())

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class _PlannedClip:
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
    if problems:
        raise UsageError(f"Invalid synthetic data spec: {'; '.join(problems)}.")


# --- naming -------------------------------------------------------------------


def groups_of(year: int, subset: str) -> tuple[str, ...]:
    """Sections (2022) or machine IDs (2020) that a subset holds."""
    if year == 2022:
        return DEV_SECTIONS_2022 if subset == "dev" else EVAL_SECTIONS_2022
    return DEV_IDS_2020 if subset == "dev" else EVAL_IDS_2020


def _attribute_tail(machine: str, condition: int) -> str:
    return "_".join(f"{key}_{values[condition]}" for key, values in _ATTRIBUTES_2022[machine])


def _name_2022(group: str, domain: str, split: str, label: int, index: int, tail: str) -> str:
    label_name = "anomaly" if label else "normal"
    return f"section_{group}_{domain}_{split}_{label_name}_{index:04d}_{tail}.wav"


def _name_2020(group: str, label: int, index: int) -> str:
    return f"{'anomaly' if label else 'normal'}_id_{group}_{index:08d}.wav"


def _clip_groups(spec: SynthSpec, split: str) -> list[tuple[str | None, int, int]]:
    """(domain, label, count) of the clips one group holds in a split."""
    domains: tuple[str | None, ...] = ("source", "target") if spec.year == 2022 else (None,)
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
) -> list[_PlannedClip]:
    """The clips of one machine, subset, split and group, named as the real data is."""
    machine_index = MACHINES[spec.year].index(machine)
    clips = []
    for domain, label, count in _clip_groups(spec, split):
        for i in range(count):
            condition = (
                TARGET_CONDITION if domain == "target" else (i % 2 if spec.year == 2022 else 0)
            )
            if spec.year == 2022:
                tail = _attribute_tail(machine, condition)
                name = _name_2022(group, str(domain), split, label, i, tail)
            else:
                name = _name_2020(group, label, i)
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
                _PlannedClip(
                    machine, subset, split, group, name, label, domain, condition, kind, key
                )
            )
    if subset == "eval" and split == "test":
        clips = _unlabelled(spec, clips)
    return clips


def _unlabelled(spec: SynthSpec, clips: list[_PlannedClip]) -> list[_PlannedClip]:
    """Shuffle eval test clips and give them the label-free names the challenge used."""
    if not clips:
        return clips
    first = clips[0]
    rng = np.random.default_rng([spec.seed, *first.key[:3], 99])
    order = rng.permutation(len(clips))
    prefix, digits = ("section", 4) if spec.year == 2022 else ("id", 8)
    renamed = []
    for position, clip in zip(order, clips, strict=True):
        name = f"{prefix}_{clip.group}_{int(position):0{digits}d}.wav"
        renamed.append(dataclasses.replace(clip, name=name, labelled_name=clip.name))
    return sorted(renamed, key=lambda c: c.name)


def _plan(spec: SynthSpec) -> list[_PlannedClip]:
    """Every clip ``spec`` describes, in writing order."""
    return [
        clip
        for machine in spec.machines
        for subset in spec.subsets
        for group in groups_of(spec.year, subset)
        for split in ("train", "test")
        for clip in _plan_group(spec, machine, subset, split, group)
    ]


def _clip_samples(spec: SynthSpec, clip: _PlannedClip) -> np.ndarray:
    """A clip's samples from a generator seeded by the spec's seed and the clip's identity."""
    rng = np.random.default_rng([spec.seed, *clip.key])
    return synthesize_pcm16(
        clip.machine,
        clip.group,
        clip.condition,
        clip.kind,
        rng,
        spec.samples_per_clip,
        spec.sample_rate,
        spec.anomaly_strength,
    )


# --- writing ------------------------------------------------------------------


def _check_no_foreign_files(root: Path, clips: list[_PlannedClip]) -> None:
    """Refuse to add to a folder holding clips this spec would not write: the tree would mix."""
    planned: dict[Path, set[str]] = {}
    for clip in clips:
        planned.setdefault(root / clip.relative_path.parent, set()).add(clip.name)
    for folder, names in planned.items():
        foreign = (
            [p.name for p in list_audio(folder) if p.name not in names] if folder.is_dir() else []
        )
        if foreign:
            raise DataError(
                f"{folder} already holds {len(foreign)} clip(s) this data set would not write "
                f"(e.g. {foreign[0]}).",
                "Write the synthetic data set to an empty folder, or delete the old one first.",
            )


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")


def _csv_text(rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _write_ground_truth_2022(root: Path, clips: list[_PlannedClip]) -> list[Path]:
    written = []
    sections = sorted({(c.machine, c.group) for c in clips})
    for machine, group in sections:
        rows = sorted(
            (c for c in clips if (c.machine, c.group) == (machine, group)), key=lambda c: c.name
        )
        file_name = f"ground_truth_{machine}_section_{group}_test.csv"
        for folder, value in (
            ("ground_truth_data", lambda c: c.label),
            ("ground_truth_domain", lambda c: int(c.domain == "target")),
        ):
            path = root / GROUND_TRUTH_DIR / folder / file_name
            write_text_atomic(path, _csv_text((c.name, value(c)) for c in rows))
            written.append(path)
    return written


def _read_eval_list_2020(path: Path) -> dict[str, list[list[str]]]:
    """Blocks of an existing eval_data_list.csv, so machines written earlier are kept."""
    blocks: dict[str, list[list[str]]] = {}
    if path.is_file():
        current: list[list[str]] = []
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines()):
            if len(row) == 1:
                current = blocks.setdefault(row[0], [])
            elif len(row) > 1:
                current.append(row)
    return blocks


def _write_ground_truth_2020(root: Path, clips: list[_PlannedClip]) -> list[Path]:
    path = root / GROUND_TRUTH_DIR / "eval_data_list.csv"
    blocks = _read_eval_list_2020(path)
    for machine in {c.machine for c in clips}:
        mine = sorted((c for c in clips if c.machine == machine), key=lambda c: c.name)
        blocks[machine] = [[c.name, c.labelled_name, str(c.label)] for c in mine]
    order = [m for m in MACHINES[2020] if m in blocks] + sorted(set(blocks) - set(MACHINES[2020]))
    write_text_atomic(path, _csv_text(row for m in order for row in ([m], *blocks[m])))
    return [path]


def _write_ground_truth(root: Path, year: int, clips: list[_PlannedClip]) -> list[Path]:
    unlabelled = [c for c in clips if c.subset == "eval" and c.split == "test"]
    if not unlabelled:
        return []
    writer = _write_ground_truth_2022 if year == 2022 else _write_ground_truth_2020
    return writer(root, unlabelled)


def spec_json(spec: SynthSpec) -> str:
    """The spec as the marker file at a synthetic root holds it."""
    return json.dumps(dataclasses.asdict(spec), sort_keys=True)


def write_dataset(
    root: Path | str, spec: SynthSpec, progress: Progress | None = None
) -> SynthSummary:
    """Write the clips and eval ground truth ``spec`` describes under ``root``.

    Same spec, same bytes: every clip's randomness derives from the seed and
    the clip's identity, so rewriting a tree with the same spec changes nothing.
    """
    root = Path(root)
    progress = progress or no_progress
    clips = _plan(spec)
    _check_no_foreign_files(root, clips)
    task = f"Writing synthetic DCASE {spec.year} clips"
    progress(task, 0, len(clips))
    for done, clip in enumerate(clips, start=1):
        _write_wav(root / clip.relative_path, _clip_samples(spec, clip), spec.sample_rate)
        progress(task, done, len(clips))
    ground_truth = _write_ground_truth(root, spec.year, clips)
    write_text_atomic(root / SYNTHETIC_MARKER, spec_json(spec))
    counts = Counter((c.machine, c.subset, c.split, c.group) for c in clips)
    return SynthSummary(root=root, counts=dict(counts), ground_truth=tuple(ground_truth))
