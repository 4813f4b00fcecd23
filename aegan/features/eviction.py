"""The feature cache's size limit: least recently used entries go first.

An entry is a features file (``.npy``) and its metadata (``.json``) under the
features folder. Reading an entry marks it used (the metadata's modification
time), so entries of every feature setting stay until the cache outgrows the
user's limit (``cache.features_max_gb``); then the ones unused for longest are
removed. An entry being written (its lock is held) is never touched, and a
features file left without metadata by a killed run is removed like any other.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from aegan import paths


@dataclass(frozen=True)
class Entry:
    """One cached features file, its metadata, their size on disk and when it was last used."""

    npy: Path
    meta: Path
    size: int
    used: float


def mark_used(meta: Path) -> None:
    """Record that an entry was just read (its metadata's modification time)."""
    with contextlib.suppress(OSError):  # a read-only cache still serves; it is evicted sooner
        os.utime(meta)


def entries(folder: Path) -> list[Entry]:
    """Every entry under ``folder``, least recently used first."""
    found = []
    for npy in folder.rglob("*.npy"):
        if npy.name.startswith("."):
            continue  # staging files of writes in progress or killed: ``sweep_stale``'s
        meta = npy.with_suffix(".json")
        try:
            size = npy.stat().st_size
            meta_stat = meta.stat() if meta.is_file() else None
        except OSError:
            continue  # removed meanwhile by another process
        used = meta_stat.st_mtime if meta_stat else 0.0  # no metadata: unusable, first to go
        found.append(Entry(npy, meta, size + (meta_stat.st_size if meta_stat else 0), used))
    return sorted(found, key=lambda e: (e.used, str(e.npy)))


def remove_entry(npy: Path) -> bool:
    """Remove one cache entry unless a run is writing it (its lock file exists while held).

    The metadata goes first, so a reader never finds half an entry.
    """
    if paths.lock_file(npy).exists():
        return False
    npy.with_suffix(".json").unlink(missing_ok=True)
    npy.unlink(missing_ok=True)
    return True


def evict(folder: Path, max_bytes: int, keep: Path) -> list[Path]:
    """Remove least recently used entries until the cache under ``folder`` fits ``max_bytes``.

    ``keep`` (the features file just written or read) stays even if it alone is
    larger than the limit: the caller is about to use it. Returns the removed
    features files.
    """
    found = entries(folder)
    total = sum(e.size for e in found)
    removed = []
    for entry in found:
        if total <= max_bytes:
            break
        if entry.npy == keep or not remove_entry(entry.npy):
            continue
        total -= entry.size
        removed.append(entry.npy)
    return removed
