"""Ground truth of the DCASE eval test sets, read from the official evaluators' files.

The eval test clips are unlabelled (``section_03_0000.wav``, ``id_05_00000252.wav``);
their labels (and 2022 domains) are public in the official evaluators, whose
source and layout each edition states in ``facts.yaml``:

- 2022: Kota-Dohi/dcase2022_evaluator, ``ground_truth_data/`` and
  ``ground_truth_domain/``, one CSV per machine type and section.
- 2020: ``eval_data_list.csv`` (Zenodo record 3951620), one block per machine type.
- 2021, 2023-2025: the official baseline's ``datasets/eval_data_list_<year>.csv``
  (nttcslab/dcase2023_task2_baseline_ae), one block per machine type of rows
  ``eval_name,labelled_name``; the labelled name carries domain and label.
- 2026: the eval test set is published (Zenodo record 20437238), its labels not
  yet; a ``--ground-truth DIR`` is read in the 2022 and 2024 evaluators' layout.

A ground-truth folder is laid out exactly as those files are, so a checkout of
the evaluator works as is.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from aegan.dcase.clips import Clip, ClipNameError, parse_clip_name
from aegan.dcase.facts import GroundTruthFact, edition, short_year
from aegan.errors import DataError

GROUND_TRUTH_DIR = "ground_truth"
"""Folder of a dataset root that holds the evaluators' files (where fetch and synth put them)."""

DOMAIN_CODES = {0: "source", 1: "target"}

GroundTruth = dict[str, tuple[int, str | None]]
"""Eval test file name -> (label 0/1, domain "source"/"target", or None in 2020)."""


def ground_truth_files(year: int, machine: str) -> list[str]:
    """Paths under a ground-truth folder of one machine type's eval labels (canonical values).

    The layout is the official evaluators' (``facts.yaml``): 2020 one
    ``eval_data_list.csv`` (all machine types); 2022 per eval section
    ``ground_truth_data/ground_truth_<mt>_section_<ss>_test.csv`` (0 normal,
    1 anomaly) and the same name under ``ground_truth_domain/`` (0 source,
    1 target).
    """
    facts = edition(year)
    truth = facts.ground_truth
    if truth is None:
        return []
    if truth.format == "eval_data_list":
        return [truth.files["list"]]
    return [
        _per_section(truth, role, machine, section)
        for section in facts.sections["eval"]
        for role in ("labels", "domains")
    ]


def ground_truth_origin(year: int) -> str:
    """Where an edition's ground truth is published, in words (the hub builds the URLs)."""
    truth = edition(year).ground_truth
    if truth is None or not truth.published:
        return "nowhere yet"
    if truth.zenodo_record is not None:
        return f"Zenodo record {truth.zenodo_record}"
    return f"the GitHub repository {truth.github_repo}"


def _per_section(truth: GroundTruthFact, role: str, machine: str, section: str) -> str:
    return truth.files[role].format(machine=machine, section=section)


def _where(year: int, relative: str, sources: Mapping[str, str] | None) -> str:
    if sources and relative in sources:
        return sources[relative]
    return f"{relative} of {ground_truth_origin(year)}"


def _open_truth_file(folder: Path, relative: str, hint: str) -> list[list[str]]:
    path = folder / relative
    if not path.is_file():
        raise DataError(f"Ground truth file {relative} is missing from {folder}.", hint)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]


def _malformed(path: Path, row: Sequence[str]) -> DataError:
    return DataError(
        f"Ground truth file {path} has a malformed row: {','.join(row)!r}.",
        "Download the file again.",
    )


def _binary(value: str, path: Path, row: Sequence[str]) -> int:
    """A 0/1 cell of a ground-truth file (the evaluators read it as a float)."""
    try:
        number = float(value)
    except ValueError:
        raise _malformed(path, row) from None
    if number not in (0.0, 1.0):
        raise _malformed(path, row)
    return int(number)


class _Reader:
    """One machine type's ground-truth files under ``folder``, with hints naming their source."""

    def __init__(
        self, folder: Path, year: int, machine: str, sources: Mapping[str, str] | None
    ) -> None:
        self.folder, self.year, self.machine, self.sources = folder, year, machine, sources

    def rows(self, relative: str) -> list[list[str]]:
        return _open_truth_file(self.folder, relative, self.missing_hint(relative))

    def missing_hint(self, relative: str) -> str:
        """What to do about a missing file: fetch it, download it, or (unpublished) where to look."""
        path = self.folder / relative
        if not edition(self.year).ground_truth.published:
            return (
                f"The DCASE {self.year} eval labels are not published yet (earlier editions "
                "published theirs with the official evaluator, e.g. "
                "nttcslab/dcase2024_task2_evaluator). Pass --ground-truth DIR holding its "
                "ground_truth_data/ and ground_truth_domain/ folders (one CSV per machine "
                f"type and section, e.g. {relative})."
            )
        fetch = f"`aegan fetch --data {self.machine} --year {short_year(self.year)} --split eval`"
        return f"Run {fetch}, or download {_where(self.year, relative, self.sources)} to {path}."

    def name_to_flag(self, relative: str) -> dict[str, int]:
        """A per-section ground-truth file: rows ``file_name,0|1``."""
        path = self.folder / relative
        flags = {}
        for row in self.rows(relative):
            if len(row) != 2:
                raise _malformed(path, row)
            flags[row[0].strip()] = _binary(row[1], path, row)
        return flags

    def per_section(self) -> GroundTruth:
        facts = edition(self.year)
        truth: GroundTruth = {}
        for section in facts.sections["eval"]:
            labels, domains = (
                self.name_to_flag(_per_section(facts.ground_truth, role, self.machine, section))
                for role in ("labels", "domains")
            )
            if labels.keys() != domains.keys():
                raise DataError(
                    f"The label and domain ground truth of {self.machine} section {section} "
                    f"in {self.folder} list different files.",
                    "Download both files again.",
                )
            truth.update({name: (labels[name], DOMAIN_CODES[domains[name]]) for name in labels})
        return truth

    def labelled(self, path: Path, row: Sequence[str]) -> tuple[int, str | None]:
        """Label and domain from a row's labelled name (2021 on: two columns)."""
        if len(row) >= 3:
            return _binary(row[2], path, row), None
        try:
            clip = parse_clip_name(row[1].strip(), self.year, self.machine, "dev", "test")
        except ClipNameError:
            raise _malformed(path, row) from None
        if clip.label is None:  # an unlabelled name: not the official list
            raise _malformed(path, row)
        return clip.label, clip.domain

    def eval_data_list(self) -> GroundTruth:
        """Rows of an eval data list: a machine-type line, then ``name,labelled_name[,label]``."""
        relative = edition(self.year).ground_truth.files["list"]
        path = self.folder / relative
        truth: GroundTruth = {}
        current = None
        for row in self.rows(relative):
            if len(row) < 2:
                current = row[0].strip()
            elif current is not None and current.lower() == self.machine.lower():
                if len(row) < 3 and edition(self.year).naming != "section":
                    raise _malformed(path, row)
                truth[row[0].strip()] = self.labelled(path, row)
        if not truth:
            raise DataError(
                f"{path} holds no ground truth for {self.machine}.",
                f"Download {_where(self.year, relative, self.sources)} again; "
                f"it lists every DCASE {self.year} machine type.",
            )
        return truth


def read_ground_truth(
    folder: Path | str, year: int, machine: str, sources: Mapping[str, str] | None = None
) -> GroundTruth:
    """File name -> (label, domain) of one machine type's eval test clips (canonical values).

    ``folder`` holds the official evaluator files (``ground_truth_files``);
    domain is "source"/"target" in 2022 and None in 2020. ``sources`` (relative
    path -> download URL, from ``aegan.hub.zenodo.ground_truth_sources``) lets a
    missing file's message name its URL.
    """
    reader = _Reader(Path(folder), year, machine, sources)
    facts = edition(year).ground_truth
    if facts is None:
        raise DataError(
            f"The DCASE {year} eval test labels are not published yet.",
            "Test on the dev set (--split dev).",
        )
    if facts.format == "eval_data_list":
        return reader.eval_data_list()
    return reader.per_section()


def with_ground_truth(
    clips: Sequence[Clip], truth: Mapping[str, tuple[int, str | None]]
) -> list[Clip]:
    """The clips with label and domain filled in from ``truth`` where they had no label."""
    missing = [clip for clip in clips if clip.label is None and clip.name not in truth]
    if missing:
        folders = sorted({str(clip.path.parent) for clip in missing})
        examples = ", ".join(clip.name for clip in missing[:3])
        raise DataError(
            f"{len(missing)} of {len(clips)} test clips have no ground-truth entry "
            f"(e.g. {examples} in {', '.join(folders)}).",
            "The ground truth must be the official one for this machine type and year; "
            "download it again, or check that the test folder holds the official eval clips.",
        )
    return [
        clip
        if clip.label is not None
        else dataclasses.replace(clip, label=truth[clip.name][0], domain=truth[clip.name][1])
        for clip in clips
    ]


def ground_truth_folder(root: Path | str) -> Path:
    return Path(root) / GROUND_TRUTH_DIR
