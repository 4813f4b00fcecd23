"""Chunks of files, named by what they hold, and the plan of a run's output folder.

A run's files are cut into chunks deterministically: grouped by model in the
order the models first appear, then in input order, ``files_per_chunk`` at a
time. A chunk's name is a digest of its model's bundle, the scoring settings
and its files, so the same command gives the same chunks, and a part file of
that name is the chunk's finished result: a rerun skips it (resume). The
folder's ``_plan.json`` lists the parts of the run; a rerun with other inputs
into the same folder is refused, so no row is ever counted twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from aegan.errors import UsageError
from aegan.fleet.inputs import Entry, ModelRef
from aegan.paths import write_text_atomic

FILES_PER_CHUNK = 16
"""Files per chunk: a task of a few seconds to minutes, small enough to redo when a worker dies."""

PLAN_FILE = "_plan.json"
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class ScoreSettings:
    """How every file of a run is scored, as `aegan score` takes it (shared by all chunks)."""

    timeline: bool | None = None  # None: by length, as `aegan score`
    hop: float | None = None
    score: str | None = None  # None: each model's own score
    precision: str = "fp32"
    device: str | None = None  # None: each worker's default device (its first GPU, else CPU)


@dataclass(frozen=True)
class Chunk:
    """Files scored together by one task with one model; ``part`` is its output file's name."""

    index: int
    digest: str
    model: ModelRef
    entries: tuple[Entry, ...]
    part: str


def chunk_digest(model: ModelRef, settings: ScoreSettings, entries: Sequence[Entry]) -> str:
    """What a chunk's result depends on: the bundle, the settings that change numbers, the files."""
    keyed = {k: v for k, v in asdict(settings).items() if k != "device"}
    text = json.dumps(
        {
            "model": model.digest,
            "settings": keyed,
            "files": [[str(e.path), e.source] for e in entries],
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def plan_chunks(
    entries: Sequence[Entry],
    models: dict[str, ModelRef],
    settings: ScoreSettings,
    files_per_chunk: int = FILES_PER_CHUNK,
    fmt: str = "parquet",
) -> list[Chunk]:
    """The run's chunks, the same for the same inputs and settings."""
    if files_per_chunk < 1:
        raise UsageError(f"A chunk holds 1 file or more, not {files_per_chunk}.")
    if fmt not in FORMATS:
        raise UsageError(f"Unknown output format {fmt!r}.", f"Use one of {', '.join(FORMATS)}.")
    by_model: dict[str, list[Entry]] = {}
    for entry in entries:
        by_model.setdefault(entry.model, []).append(entry)
    chunks = []
    for model, listed in by_model.items():
        for first in range(0, len(listed), files_per_chunk):
            group = tuple(listed[first : first + files_per_chunk])
            digest = chunk_digest(models[model], settings, group)
            index = len(chunks)
            part = f"part-{index:05d}-{digest[:16]}.{fmt}"
            chunks.append(Chunk(index, digest, models[model], group, part))
    return chunks


def claim_folder(out: Path, chunks: Sequence[Chunk]) -> None:
    """Record the plan in ``out``, or check that the folder holds parts of this same plan only."""
    if check_folder(out, chunks) is None:
        out.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"parts": [c.part for c in chunks]}, indent=1) + "\n"
        write_text_atomic(out / PLAN_FILE, text)


def check_folder(out: Path, chunks: Sequence[Chunk]) -> list[str] | None:
    """Refuse a folder holding parts of other inputs; returns its saved plan (None: new)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder.", "Give a folder for the parts.")
    names = [c.part for c in chunks]
    plan = out / PLAN_FILE
    known = set(names)
    foreign = sorted(p.name for p in out.glob("part-*") if p.name not in known)
    saved = _saved_parts(plan)
    if foreign or (saved is not None and saved != names):
        raise UsageError(
            f"{out} holds the results of other inputs or settings"
            + (f" ({foreign[0]} and {len(foreign) - 1} more parts)." if foreign else "."),
            "Rerun the exact command that wrote it to resume, or give another --out folder.",
        )
    return saved


def _saved_parts(plan: Path) -> list[str] | None:
    if not plan.is_file():
        return None
    try:
        return list(json.loads(plan.read_text(encoding="utf-8"))["parts"])
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"{plan} is damaged.",
            f"Delete {plan.parent} (or give another --out) and run again.",
        ) from None
