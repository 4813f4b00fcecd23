"""The eval ground truth of a synthetic tree, in the official evaluators' formats.

The files and their layout are the edition's (``aegan/dcase/facts.yaml``), so
``aegan.dcase.ground_truth`` reads them as it reads the real ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from aegan.dcase.facts import MACHINES, edition
from aegan.dcase.ground_truth import GROUND_TRUTH_DIR
from aegan.paths import write_text_atomic
from aegan.synth.plan import PlannedClip


def _csv_text(rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _write_per_section(root: Path, year: int, clips: list[PlannedClip]) -> list[Path]:
    """A label file (0 normal, 1 anomaly) and a domain file (0 source, 1 target) per section."""
    files = edition(year).ground_truth.files
    written = []
    sections = sorted({(c.machine, c.group) for c in clips})
    for machine, group in sections:
        rows = sorted(
            (c for c in clips if (c.machine, c.group) == (machine, group)), key=lambda c: c.name
        )
        for role, value in (
            ("labels", lambda c: c.label),
            ("domains", lambda c: int(c.domain == "target")),
        ):
            path = root / GROUND_TRUTH_DIR / files[role].format(machine=machine, section=group)
            write_text_atomic(path, _csv_text((c.name, value(c)) for c in rows))
            written.append(path)
    return written


def _read_eval_list(path: Path) -> dict[str, list[list[str]]]:
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


def _write_eval_data_list(root: Path, year: int, clips: list[PlannedClip]) -> list[Path]:
    """One list of all machine types: a line with the type, then ``name,labelled_name,label``
    (2020) or ``name,labelled_name`` (2021 on: the labelled name carries label and domain)."""
    facts = edition(year)
    path = root / GROUND_TRUTH_DIR / facts.ground_truth.files["list"]
    blocks = _read_eval_list(path)
    with_label = facts.naming == "machine_id"
    for machine in {c.machine for c in clips}:
        mine = sorted((c for c in clips if c.machine == machine), key=lambda c: c.name)
        blocks[machine] = [
            [c.name, c.labelled_name, *([str(c.label)] if with_label else [])] for c in mine
        ]
    known = MACHINES[year]
    order = [m for m in known if m in blocks] + sorted(set(blocks) - set(known))
    write_text_atomic(path, _csv_text(row for m in order for row in ([m], *blocks[m])))
    return [path]


def write_ground_truth(root: Path, year: int, clips: list[PlannedClip]) -> list[Path]:
    """The ground truth of the planned eval test clips under ``root/ground_truth/``."""
    unlabelled = [c for c in clips if c.subset == "eval" and c.split == "test"]
    if not unlabelled or edition(year).ground_truth is None:  # no eval test set published
        return []
    if edition(year).ground_truth.format == "eval_data_list":
        return _write_eval_data_list(root, year, unlabelled)
    return _write_per_section(root, year, unlabelled)
