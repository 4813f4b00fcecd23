"""What a fleet run scores: files from a manifest, folders and globs, each with its model.

A manifest is a CSV file with a ``path`` column and optionally ``model`` (a
name or bundle path; default the ``--model`` option) and ``source`` (a free
label carried into every row, a microphone say). Relative paths are relative
to the manifest's folder. A listed file that is missing or unreadable is not
a mistake in the manifest: it becomes an error row when scored.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aegan.bundles.registry import resolve_bundle
from aegan.errors import UsageError, system_failure
from aegan.features.audio import find_audio_files
from aegan.paths import file_digests

MANIFEST_COLUMNS = ("path", "model", "source")


@dataclass(frozen=True)
class Entry:
    """One file to score, with the model to score it and its source label."""

    path: Path
    model: str
    source: str | None = None


@dataclass(frozen=True)
class ModelRef:
    """A model as workers load it: its name, its bundle file and the file's SHA-256."""

    name: str
    path: Path
    digest: str


def read_manifest(manifest: Path, default_model: str | None) -> list[Entry]:
    """The entries of a manifest CSV; a missing column or model is a usage error naming the line."""
    try:
        with open(manifest, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            columns = rows[0].keys() if rows else []
    except FileNotFoundError:
        raise UsageError(
            f"The manifest {manifest} does not exist.", "Check the path given to --manifest."
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            f"The manifest {manifest} is not a UTF-8 CSV file.",
            "Give a CSV file with a header line: path[,model][,source].",
        ) from None
    except OSError as exc:
        raise system_failure(exc, "read the manifest", manifest) from None
    if "path" not in columns:
        raise UsageError(
            f"The manifest {manifest} has no 'path' column"
            + (f" (its columns: {', '.join(columns)})." if columns else " (it has no rows)."),
            "Start it with a header line: path[,model][,source], then one file per line.",
        )
    folder = manifest.parent
    return [_entry(row, folder, default_model, manifest, line) for line, row in enumerate(rows, 2)]


def _entry(row: dict, folder: Path, default_model: str | None, manifest: Path, line: int) -> Entry:
    text = (row.get("path") or "").strip()
    model = (row.get("model") or "").strip() or default_model
    if not text or model is None:
        what = "no path" if not text else "no model, and no --model was given"
        raise UsageError(
            f"Line {line} of {manifest} has {what}.",
            "Fill in its path and model columns, or pass --model for the rows without one.",
        )
    path = Path(text).expanduser()
    source = (row.get("source") or "").strip() or None
    return Entry(path if path.is_absolute() else folder / path, model, source)


def gather_entries(inputs: Sequence[str], model: str | None, manifest: Path | None) -> list[Entry]:
    """Manifest entries, then the files of paths, folders and globs (scored with ``model``).

    A (file, model) pair listed twice is scored once.
    """
    entries = [] if manifest is None else read_manifest(manifest, model)
    if inputs:
        if model is None:
            raise UsageError(
                "Files given on the command line need a --model.", "E.g. --model fan22."
            )
        entries += [Entry(path, model) for path in find_audio_files(inputs)]
    if not entries:
        raise UsageError("Nothing to score.", "Give files, folders, globs or --manifest FILE.")
    unique: dict[tuple[Path, str], Entry] = {}
    for entry in entries:
        unique.setdefault((entry.path, entry.model), entry)  # the first listing wins
    return list(unique.values())


def resolve_models(entries: Sequence[Entry]) -> dict[str, ModelRef]:
    """Every model the entries name, resolved once here; an unknown one fails before any work."""
    refs = {}
    for model in dict.fromkeys(e.model for e in entries):
        path, name = resolve_bundle(model)
        refs[model] = ModelRef(name, path.resolve(), file_digests(path)[1])
    return refs
