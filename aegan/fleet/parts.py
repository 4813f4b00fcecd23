"""Part files: one per chunk, one row per window, written whole or not at all; the run's summary.

A row: the file, its source label, the window's start and end (seconds; for
a file scored whole, 0 and its length), the file's length, the score, the
threshold, the decision, the model's name and bundle SHA-256, and the error
(a file that cannot be read is one row with only its error). Parquet by
default, CSV when asked; each part is written under a temporary name and
renamed, so a killed worker never leaves a part that looks finished.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from aegan.paths import atomic_path

SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("source", pa.string()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("duration", pa.float64()),
        ("score", pa.float64()),
        ("threshold", pa.float64()),
        ("decision", pa.string()),
        ("model", pa.string()),
        ("model_hash", pa.string()),
        ("error", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)


def write_part(target: Path, rows: Sequence[dict]) -> Path:
    """Write a chunk's rows to ``target`` (.parquet or .csv) atomically."""
    table = pa.Table.from_pylist(list(rows), schema=SCHEMA)
    with atomic_path(target) as tmp:
        if target.suffix == ".csv":
            _write_csv(tmp, rows)
        else:
            pq.write_table(table, tmp)
    return target


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_part(path: Path) -> pa.Table:
    """A part's rows, with the same column types whatever its format."""
    if path.suffix == ".csv":
        options = pa_csv.ConvertOptions(column_types=SCHEMA, strings_can_be_null=True)
        return pa_csv.read_csv(path, convert_options=options)
    return pq.read_table(path, schema=SCHEMA)


def read_rows(paths: Sequence[Path]) -> pa.Table:
    """The rows of several parts as one table, in part order."""
    return pa.concat_tables([read_part(p) for p in paths]) if paths else SCHEMA.empty_table()


@dataclass(frozen=True)
class Totals:
    """What a set of rows holds: files, audio, windows, anomalies, errors."""

    files: int
    audio_seconds: float
    windows: int
    anomalous_windows: int
    anomalous_files: int
    error_rows: int
    unreadable_files: int  # files without one scored window

    @property
    def audio_hours(self) -> float:
        return self.audio_seconds / 3600


def totals(table: pa.Table) -> Totals:
    """Count a table of rows; a file (per model) counts once however many windows it has."""
    per_file = table.group_by(["file", "model"]).aggregate(
        [("duration", "max"), ("score", "count")]
    )
    anomalous = table.filter(pc.equal(table["decision"], "anomaly"))
    return Totals(
        files=per_file.num_rows,
        audio_seconds=float(pc.sum(per_file["duration_max"]).as_py() or 0.0),
        windows=table.num_rows,
        anomalous_windows=anomalous.num_rows,
        anomalous_files=anomalous.group_by(["file", "model"]).aggregate([]).num_rows,
        error_rows=int(pc.sum(pc.is_valid(table["error"])).as_py() or 0),
        unreadable_files=int(pc.sum(pc.equal(per_file["score_count"], 0)).as_py() or 0),
    )
