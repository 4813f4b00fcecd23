"""The DCASE zips: which ones hold a machine's data, their safe extraction into
the dataset tree, and what is already there.

Each machine type's data comes in three zips (dev; additional train; eval
test; docs/method.md section 1; ``aegan/dcase/facts.yaml``). An archive is checked so that no entry can land outside
the target folder, unpacked into a staging folder, and its audio moved to
``<root>/<subset>_data/<machine>/<split>/``. A marker file remembers a
finished archive, so a second fetch needs no network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from aegan import paths
from aegan.byte_sizes import format_bytes
from aegan.dcase.clips import find_machine_dir, list_audio, machine_dir, subsets_of
from aegan.dcase.facts import edition
from aegan.errors import DataError, UsageError, system_failure
from aegan.progress import Progress, no_progress

DATASET_SPLITS = ("dev", "eval", "all")

_MARKER_DIR = ".aegan"

MAX_ENTRIES = 100_000
"""Most entries an archive may hold (the largest DCASE zips hold about 10,000)."""
MAX_TOTAL_BYTES = 50 * 1024**3
"""Most bytes an archive may unpack to (the largest DCASE zips unpack to a few GB)."""
MAX_RATIO = 20.0
"""Most an archive may expand (unpacked / packed bytes); audio compresses poorly."""
RATIO_FLOOR_BYTES = 16 * 1024**2
"""The ratio is checked for archives that unpack to at least this many bytes."""
DISK_MARGIN_BYTES = 100 * 1024**2
"""Free space kept beyond what an archive unpacks to."""


@dataclass(frozen=True)
class Archive:
    """One DCASE zip on Zenodo and what it holds once extracted."""

    record: int
    name: str
    subset: str
    splits: tuple[str, ...]
    extra: tuple[str, ...] = ()


def dcase_archives(year: int, machine: str, split: str) -> list[Archive]:
    """The Zenodo zips holding one machine's data (``facts.yaml``): ``split`` is dev, eval or all.

    Only the subsets that hold the machine type count (2023 on, a type is in the
    dev or the eval set). ``year`` and ``machine`` are canonical (``MachineType``).
    """
    if split not in DATASET_SPLITS:
        raise UsageError(
            f"Unknown data split {split!r}.", f"Use one of: {', '.join(DATASET_SPLITS)}."
        )
    facts = edition(year)
    return [
        Archive(fact.record, fact.file_of(machine), fact.subset, fact.splits, fact.extra)
        for fact in facts.archives
        if split in ("all", fact.subset) and fact.subset in facts.subsets_of(machine)
    ]


# ---------------------------------------------------------------- safe extraction


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a path that escapes the target folder with '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    return None


def _check_archive(zip_file: zipfile.ZipFile, source: Path) -> None:
    """Refuse the whole archive if any entry could write outside the target folder."""
    for info in zip_file.infolist():
        reason = _unsafe_reason(info)
        if reason:
            raise DataError(
                f"Refusing to extract {source.name}: its entry {info.filename!r} is {reason}. "
                "Nothing was extracted.",
                "The archive is damaged or not the official one; delete it and download it again.",
            )


def _free_bytes(folder: Path) -> int:
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    return shutil.disk_usage(existing).free


def _check_limits(zip_file: zipfile.ZipFile, source: Path, root: Path) -> None:
    """Refuse an archive too big to unpack: entry count, total size, ratio, free space."""
    infos = zip_file.infolist()
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    ratio = total / packed
    problem = hint = None
    damaged = "The archive is damaged or not the official one; delete it and download it again."
    if len(infos) > MAX_ENTRIES:
        problem = f"it holds {len(infos)} entries (the limit is {MAX_ENTRIES})"
    elif total > MAX_TOTAL_BYTES:
        problem = (
            f"it unpacks to {format_bytes(total)} (the limit is {format_bytes(MAX_TOTAL_BYTES)})"
        )
    elif total >= RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
        problem = (
            f"it unpacks {format_bytes(packed)} to {format_bytes(total)}, {ratio:.0f} times its size "
            f"(the limit is {MAX_RATIO:.0f}); it may be a zip bomb"
        )
    elif (free := _free_bytes(root)) < total + DISK_MARGIN_BYTES:
        problem = (
            f"it unpacks to {format_bytes(total)}, but only {format_bytes(free)} are free on the disk of "
            f"{root} (and {format_bytes(DISK_MARGIN_BYTES)} are kept free)"
        )
        hint = "Free some space there, or fetch into another folder (--data-dir DIR)."
    if problem:
        raise DataError(
            f"Refusing to extract {source.name}: {problem}. Nothing was extracted.",
            hint or damaged,
        )


def _audio_count(folder: Path) -> int:
    return len(list_audio(folder)) if folder.is_dir() else 0


def _split_folder(staging: Path, split: str, machine: str, archive: Archive) -> Path:
    """The extracted folder holding one split, whatever the archive's top folders are."""
    found = [
        d
        for d in sorted(staging.rglob("*"))
        if d.is_dir()
        and d.name.lower() == split
        and "__MACOSX" not in d.parts
        and _audio_count(d) > 0
    ]
    if len(found) > 1:
        named = [d for d in found if machine.lower() in (p.lower() for p in d.parts)]
        found = named or found
    if len(found) == 1:
        return found[0]
    top = ", ".join(sorted(p.name for p in staging.iterdir())) or "nothing"
    what = "several" if found else "no"
    raise DataError(
        f"{archive.name} has {what} {split}/ folder(s) with audio; its top level holds: {top}.",
        "The archive does not look like the official DCASE one; delete it and download it again.",
    )


def _has_folder(staging: Path, name: str) -> bool:
    return any(d.is_dir() and d.name.lower() == name for d in staging.rglob("*"))


def extract_archive(
    zip_path: Path, root: Path, machine: str, archive: Archive, progress: Progress | None = None
) -> dict[str, int]:
    """Extract a DCASE zip into ``root/<subset>_data/<machine>/<split>/``.

    The archive is checked first (safe entry names; entry count, size, expansion
    ratio and free disk space within limits) and unpacked into a staging folder,
    so an unsafe, oversized or malformed archive leaves nothing behind. Returns files per split.
    """
    progress = progress or no_progress
    try:
        with zipfile.ZipFile(zip_path) as zip_file:
            _check_archive(zip_file, zip_path)
            _check_limits(zip_file, zip_path, Path(root))
            with paths.staging_dir(Path(root) / archive.name) as staging:
                members = zip_file.infolist()
                for index, member in enumerate(members, 1):
                    zip_file.extract(member, staging)
                    progress(f"Extracting {archive.name}", index, len(members))
                return _move_into_place(staging, Path(root), machine, archive)
    except zipfile.BadZipFile as exc:
        raise DataError(
            f"{zip_path} is not a valid zip archive ({exc}).",
            "Delete it and download it again.",
        ) from None
    except OSError as exc:  # disk full, permission denied: the OS often names no path
        raise system_failure(exc, f"extract {zip_path.name} into {root}", root) from None


def _move_into_place(staging: Path, root: Path, machine: str, archive: Archive) -> dict[str, int]:
    """Move the extracted audio from ``staging`` into the data tree; files per split."""
    sources = {split: _split_folder(staging, split, machine, archive) for split in archive.splits}
    for extra in archive.extra:  # folders an archive may hold (2025: supplemental/)
        if _has_folder(staging, extra):
            sources[extra] = _split_folder(staging, extra, machine, archive)
    counts = {}
    for split, source in sources.items():
        target = machine_dir(root, archive.subset, machine) / split
        target.mkdir(parents=True, exist_ok=True)
        moved = list_audio(source)
        for path in moved:
            os.replace(path, target / path.name)
        counts[split] = len(moved)
    return counts


# ---------------------------------------------------------------- what is on disk


def _marker_path(root: Path, archive: Archive) -> Path:
    return Path(root) / _MARKER_DIR / f"{archive.name}.json"


def archive_complete(root: Path, archive: Archive, machine: str) -> bool:
    """True when a previous fetch extracted this archive and its files are still there."""
    marker = _marker_path(root, archive)
    try:
        counts = json.loads(marker.read_text(encoding="utf-8"))["files"]
        needed = {str(split): int(count) for split, count in counts.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # no marker, or a damaged one: extract again
    return all(
        _audio_count(machine_dir(root, archive.subset, machine) / split) >= count
        for split, count in needed.items()
    )


def write_marker(root: Path, archive: Archive, md5: str | None, counts: dict[str, int]) -> None:
    data = {
        "archive": archive.name,
        "record": archive.record,
        "md5": md5,
        "files": counts,
        "extracted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    paths.write_text_atomic(_marker_path(root, archive), json.dumps(data, indent=2) + "\n")


def missing_training_folders(root: Path, year: int, machine: str, train_set: str) -> list[Path]:
    """The training folders ``train_set`` needs that hold no audio under ``root`` yet."""
    missing = []
    for subset in subsets_of(train_set):
        base = find_machine_dir(root, subset, machine) or machine_dir(root, subset, machine)
        if _audio_count(base / "train") == 0:
            missing.append(base / "train")
    return missing
