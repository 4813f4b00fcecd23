"""Window scores as a table: one CSV a day (by the window's UTC date), and its Parquet copy.

The CSV is appended row by row and flushed, so it survives a crash. When a day
ends, or the monitor stops, the day's CSV is also written as Parquet (when
pyarrow is installed), atomically, from the CSV.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import TextIO

from aegan.errors import system_failure
from aegan.monitor.events import WindowScored
from aegan.paths import atomic_path

COLUMNS = ("seq", "file", "offset", "start", "end", "score", "threshold", "anomalous")


def has_parquet() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


class ScoreTable:
    """The window scores of one source under ``folder``: scores-YYYY-MM-DD.csv (and .parquet)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.day: str | None = None
        self._fh: TextIO | None = None
        self._writer: csv.writer | None = None

    def add(self, event: WindowScored) -> None:
        day = event.place.start[:10]
        if day != self.day:
            self._rotate(day)
        p = event.place
        row = (event.seq, p.file or "", p.offset, p.start, p.end, repr(event.score),
               event.threshold, int(event.anomalous))  # fmt: skip
        assert self._writer is not None and self._fh is not None
        try:
            self._writer.writerow(row)
            self._fh.flush()
        except OSError as exc:
            raise system_failure(exc, f"write window scores to {self.path(day, 'csv')}") from None

    def path(self, day: str, suffix: str) -> Path:
        return self.folder / f"scores-{day}.{suffix}"

    def _rotate(self, day: str) -> None:
        self.close()
        target = self.path(day, "csv")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            new = not target.exists() or target.stat().st_size == 0
            self._fh = open(target, "a", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise system_failure(exc, f"write window scores to {target}") from None
        self._writer = csv.writer(self._fh)
        if new:
            self._writer.writerow(COLUMNS)
        self.day = day

    def close(self) -> None:
        """Close the day's CSV and write its Parquet copy."""
        if self._fh is None:
            return
        self._fh.close()
        self._fh = self._writer = None
        if self.day is not None and has_parquet():
            write_parquet(self.path(self.day, "csv"), self.path(self.day, "parquet"))


def write_parquet(source: Path, target: Path) -> None:
    """The CSV's rows as Parquet (a partial last row, cut by a crash, is left out)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    types = {"seq": pa.int64(), "file": pa.string(), "offset": pa.float64(), "start": pa.string(),
             "end": pa.string(), "score": pa.float64(), "threshold": pa.float64(),
             "anomalous": pa.bool_()}  # fmt: skip
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=False)
    table = pacsv.read_csv(pa.py_buffer("".join(lines).encode()), convert_options=options)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
