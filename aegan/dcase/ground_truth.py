"""Ground truth of the DCASE eval test sets, read from the official evaluators' files.

The eval test clips are unlabelled (``section_03_0000.wav``, ``id_05_00000252.wav``);
their labels (and 2022 domains) are public in the official evaluators:

- 2022: Kota-Dohi/dcase2022_evaluator, ``ground_truth_data/`` and
  ``ground_truth_domain/``, one CSV per machine type and section.
- 2020: ``eval_data_list.csv`` (Zenodo record 3951620), one block per machine type.

A ground-truth folder is laid out exactly as those files are, so a checkout of
the evaluator works as is.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from aegan.dcase.clips import EVAL_SECTIONS_2022, Clip, canonical_machine, normalize_year
from aegan.errors import DataError

GROUND_TRUTH_DIR = "ground_truth"
"""Folder of a dataset root that holds the evaluators' files (where fetch and synth put them)."""

# Eval ground truth, laid out as the official evaluators expect it.
EVAL_LIST_2020 = "eval_data_list.csv"
URL_2020 = "https://zenodo.org/records/3951620/files/eval_data_list.csv"
RAW_URL_2022 = "https://raw.githubusercontent.com/Kota-Dohi/dcase2022_evaluator/main"
TRUTH_KINDS_2022 = ("ground_truth_data", "ground_truth_domain")
DOMAIN_CODES = {0: "source", 1: "target"}

GroundTruth = dict[str, tuple[int, str | None]]
"""Eval test file name -> (label 0/1, domain "source"/"target", or None in 2020)."""


def ground_truth_sources(year: int | str, machine: str) -> dict[str, str]:
    """Relative path under a ground-truth folder -> download URL, for one machine type.

    The layout is the official evaluators': 2020 one ``eval_data_list.csv``
    (Zenodo record 3951620, all machine types); 2022 per eval section
    ``ground_truth_data/ground_truth_<mt>_section_<ss>_test.csv`` (0 normal,
    1 anomaly) and the same name under ``ground_truth_domain/`` (0 source,
    1 target), from Kota-Dohi/dcase2022_evaluator.
    """
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    if year == 2020:
        return {EVAL_LIST_2020: URL_2020}
    return {
        relative: f"{RAW_URL_2022}/{relative}"
        for section in EVAL_SECTIONS_2022
        for relative in (_relative_2022(kind, machine, section) for kind in TRUTH_KINDS_2022)
    }


def _relative_2022(kind: str, machine: str, section: str) -> str:
    return f"{kind}/ground_truth_{machine}_section_{section}_test.csv"


def _open_truth_file(folder: Path, relative: str, url: str) -> list[list[str]]:
    path = folder / relative
    if not path.is_file():
        raise DataError(
            f"Ground truth file {relative} is missing from {folder}.",
            f"Download {url} to {path}.",
        )
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


def _name_to_flag(folder: Path, relative: str) -> dict[str, int]:
    """A 2022 ground-truth file: rows ``file_name,0|1``."""
    path = folder / relative
    flags = {}
    for row in _open_truth_file(folder, relative, f"{RAW_URL_2022}/{relative}"):
        if len(row) != 2:
            raise _malformed(path, row)
        flags[row[0].strip()] = _binary(row[1], path, row)
    return flags


def _read_truth_2022(folder: Path, machine: str) -> GroundTruth:
    truth: GroundTruth = {}
    for section in EVAL_SECTIONS_2022:
        labels, domains = (
            _name_to_flag(folder, _relative_2022(kind, machine, section))
            for kind in TRUTH_KINDS_2022
        )
        if labels.keys() != domains.keys():
            raise DataError(
                f"The label and domain ground truth of {machine} section {section} in {folder} "
                "list different files.",
                "Download both files again.",
            )
        truth.update({name: (labels[name], DOMAIN_CODES[domains[name]]) for name in labels})
    return truth


def _read_truth_2020(folder: Path, machine: str) -> GroundTruth:
    """Rows of ``eval_data_list.csv``: a machine-type line, then ``name,labelled_name,label``."""
    rows = _open_truth_file(folder, EVAL_LIST_2020, URL_2020)
    path = folder / EVAL_LIST_2020
    truth: GroundTruth = {}
    current = None
    for row in rows:
        if len(row) < 2:
            current = row[0].strip()
        elif current is not None and current.lower() == machine.lower():
            if len(row) < 3:
                raise _malformed(path, row)
            truth[row[0].strip()] = (_binary(row[2], path, row), None)
    if not truth:
        raise DataError(
            f"{path} holds no ground truth for {machine}.",
            f"Download {URL_2020} again; it lists every DCASE 2020 machine type.",
        )
    return truth


def read_ground_truth(folder: Path | str, year: int | str, machine: str) -> GroundTruth:
    """File name -> (label, domain) of one machine type's eval test clips.

    ``folder`` holds the official evaluator files (``ground_truth_sources``);
    domain is "source"/"target" in 2022 and None in 2020.
    """
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    folder = Path(folder)
    return _read_truth_2020(folder, machine) if year == 2020 else _read_truth_2022(folder, machine)


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
