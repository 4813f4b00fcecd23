"""The lock file: the SHA-256, size and origin of every file aegan fetched.

``aegan.hub.download`` records each file it fetched; before a fetched file is
used again it is checked against its entry, so a file modified since (or gone)
is caught instead of silently used or replaced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from aegan import paths
from aegan.errors import DownloadError
from aegan.paths import file_digests
from aegan.progress import Progress

LOCK_NAME = "aegan.lock"


@dataclass(frozen=True)
class LockEntry:
    sha256: str
    size: int
    url: str
    fetched_at: str


def lock_path() -> Path:
    return paths.cache_dir() / LOCK_NAME


def _lock_key(path: Path) -> str:
    """Paths inside the cache are stored relative to it, so the cache can move."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(paths.cache_dir().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def read_lock() -> dict[str, LockEntry]:
    file = lock_path()
    if not file.is_file():
        return {}
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        return {key: LockEntry(**value) for key, value in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise DownloadError(
            f"The lock file {file} is damaged ({exc}).",
            f"Delete {file} and fetch the files again.",
        ) from None


def _write_lock(entries: dict[str, LockEntry]) -> None:
    data = {key: vars(entry) for key, entry in sorted(entries.items())}
    paths.write_text_atomic(lock_path(), json.dumps(data, indent=2) + "\n")


def record_locked(path: Path, url: str, sha256: str | None = None) -> LockEntry:
    """Remember a fetched file's SHA-256, size and origin."""
    path = Path(path)
    entry = LockEntry(
        sha256=sha256 or file_digests(path)[1],
        size=path.stat().st_size,
        url=url,
        fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    with paths.file_lock(lock_path()):  # another aegan may record its file meanwhile
        entries = read_lock()
        entries[_lock_key(path)] = entry
        _write_lock(entries)
    return entry


def forget_locked(path: Path) -> None:
    with paths.file_lock(lock_path()):
        entries = read_lock()
        if entries.pop(_lock_key(path), None) is not None:
            _write_lock(entries)


@contextmanager
def turn(target: Path, progress: Progress) -> Iterator[bool]:
    """Hold ``target``'s inter-process lock: two aegan fetching one file take turns.

    Yields whether another aegan held it first, in which case the caller looks
    again at what that one left before fetching (it is usually all there).
    """
    waited = []
    task = f"Waiting for another aegan to finish {Path(target).name}"

    def on_wait() -> None:
        waited.append(True)
        progress(task, 0, 1)

    with paths.file_lock(target, on_wait):
        if waited:
            progress(task, 1, 1)
        yield bool(waited)


def verify_locked(path: Path, hint: str | None = None) -> LockEntry | None:
    """Check a fetched file against its lock entry before use.

    Returns the entry, or None when the file was never recorded; raises a
    DownloadError when it is missing or was modified since it was fetched.
    ``hint`` says how to fetch it again.
    """
    path = Path(path)
    entry = read_lock().get(_lock_key(path))
    if entry is None:
        return None
    refetch = hint or f"Delete it and fetch it again with `aegan fetch` (it came from {entry.url})."
    if not path.is_file():
        raise DownloadError(f"{path} was fetched before but is missing now.", refetch)
    size = path.stat().st_size
    if size != entry.size or file_digests(path)[1] != entry.sha256:
        raise DownloadError(
            f"{path} was modified since it was fetched on {entry.fetched_at} "
            "(its SHA-256 no longer matches the lock file).",
            refetch,
        )
    return entry


def already_fetched(path: Path, expected_size: int | None = None) -> bool:
    """True when a locked file is present, intact and of the expected size."""
    try:
        entry = verify_locked(path)
    except DownloadError:
        return False
    return entry is not None and (expected_size is None or entry.size == expected_size)
