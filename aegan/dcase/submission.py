"""The official DCASE Task 2 submission files: one CSV of anomaly scores (and, from
2021 on, one of decisions) per machine ID or section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aegan.dcase.clips import Clip
from aegan.dcase.facts import edition
from aegan.dcase.metrics import sanitize_scores
from aegan.errors import DataError, UsageError
from aegan.paths import write_text_atomic


def submission_file_name(
    year: int, machine: str, group: str, kind: str = "anomaly_score", domain: str | None = None
) -> str:
    """Official file name; ``kind`` is "anomaly_score" or (2021 on) "decision_result".

    2021's evaluator reads one file per section and domain (``domain`` given).
    """
    if edition(year).naming == "machine_id":
        return f"{kind}_{machine}_id_{group}.csv"
    if edition(year).domains == "separate":
        return f"{kind}_{machine}_section_{group}_{domain}_test.csv"
    return f"{kind}_{machine}_section_{group}_test.csv"


def _file_groups(year: int, clips: Sequence[Clip]) -> list[tuple[str, str | None]]:
    """(group, domain) of each submission file: per domain too where the evaluator wants it."""
    if edition(year).domains != "separate":
        return [(group, None) for group in sorted({clip.group for clip in clips})]
    missing = [clip for clip in clips if clip.domain not in ("source", "target")]
    if missing:
        raise DataError(
            f"DCASE {year} submission files are per domain, and {missing[0].name} has none.",
            "Apply the official ground truth first.",
        )
    return sorted({(clip.group, clip.domain) for clip in clips})


def _write_rows(path: Path, names: Sequence[str], values: Sequence[str]) -> Path:
    write_text_atomic(
        path, "".join(f"{name},{value}\n" for name, value in zip(names, values, strict=True))
    )
    return path


def write_submission(
    folder: Path | str,
    year: int,
    machine: str,
    clips: Sequence[Clip],
    scores: np.ndarray | Sequence[float],
    decisions: np.ndarray | Sequence[int] | None = None,
) -> list[Path]:
    """Write the official per-group CSVs (rows ``file_name,value``, sorted by name, no header).

    2020: ``anomaly_score_<mt>_id_<id>.csv``. 2022 on:
    ``anomaly_score_<mt>_section_<ss>_test.csv`` and, when ``decisions`` (0/1)
    are given, ``decision_result_<mt>_section_<ss>_test.csv``; 2021 the same
    per section and domain, ``..._section_<ss>_<source|target>_test.csv``. The official
    evaluators pair rows with the ground truth by sorted order, so the rows
    are sorted by file name. ``year`` and ``machine`` are canonical
    (``MachineType``). Returns the paths written.
    """
    values = sanitize_scores(scores)
    if values.shape != (len(clips),):
        raise DataError(
            f"Expected {len(clips)} scores, got shape {values.shape}.", "Give one score per clip."
        )
    flags = None
    if decisions is not None:
        if edition(year).naming == "machine_id":
            raise UsageError(
                f"DCASE {year} submissions have no decision files.", "Leave out the decisions."
            )
        flags = np.asarray(decisions)
        if flags.shape != (len(clips),) or not np.isin(flags, (0, 1)).all():
            raise DataError(
                f"Expected {len(clips)} decisions of 0 or 1.", "Give one 0/1 decision per clip."
            )
    folder = Path(folder)
    written = []
    for group, domain in _file_groups(year, clips):
        rows = sorted(
            (clip.name, i)
            for i, clip in enumerate(clips)
            if clip.group == group and (domain is None or clip.domain == domain)
        )
        names = [name for name, _ in rows]
        path = folder / submission_file_name(year, machine, group, domain=domain)
        written.append(_write_rows(path, names, [repr(float(values[i])) for _, i in rows]))
        if flags is not None:
            path = folder / submission_file_name(year, machine, group, "decision_result", domain)
            written.append(_write_rows(path, names, [str(int(flags[i])) for _, i in rows]))
    return written
