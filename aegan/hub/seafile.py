"""The published checkpoints: a Seafile share, and their copies in the user cache.

The share's file names are not documented, so its folders are walked and the
checkpoint of a machine is recognised by the year and machine type its path
names. A fetched checkpoint is kept as ``<model name>.pth`` in the cache and
recorded in the lock file (``aegan.hub.download``), so a later fetch needs no
network and a modified file is caught.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from aegan import paths
from aegan.bundles.registry import PublishedModel, checkpoint_path
from aegan.config.settings import HubSettings
from aegan.dcase.facts import YEARS, short_year
from aegan.errors import DataError, DownloadError, UsageError
from aegan.hub import download as dl
from aegan.hub.download import DEFAULT_BACKOFF, Check, DownloadPolicy, get_json
from aegan.hub.lockfile import record_locked, verify_locked
from aegan.progress import Progress

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar")

_MAX_SHARE_FOLDERS = 200  # bounds the listing of a share that links back on itself


@dataclass(frozen=True)
class RemoteFile:
    """A file in the checkpoint share; ``path`` is relative to the share root."""

    path: str
    size: int
    mtime: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class FetchedCheckpoint:
    """A checkpoint in the cache; ``action`` says how it got there this time."""

    path: Path
    url: str
    action: str  # "downloaded", "copied" or "cached"


def share_url(settings: HubSettings) -> str:
    return f"{settings.seafile_url.rstrip('/')}/d/{settings.seafile_token}/"


def share_file_url(settings: HubSettings, file_path: str) -> str:
    return f"{share_url(settings)}files/?p={urllib.parse.quote(file_path, safe='/')}&dl=1"


def _dirents_url(settings: HubSettings, folder: str) -> str:
    query = urllib.parse.urlencode({"path": folder})
    base = settings.seafile_url.rstrip("/")
    return f"{base}/api/v2.1/share-links/{settings.seafile_token}/dirents/?{query}"


def checkpoint_hint(settings: HubSettings, model: PublishedModel) -> str:
    return (
        f"Download it by hand: open {share_url(settings)} in a browser, download the "
        f"checkpoint, then run `aegan fetch {model.name} --from FILE`."
    )


def _child_folder(entry: dict[str, Any], parent: str) -> str:
    name = str(entry.get("folder_name", "")).strip("/")
    given = str(entry.get("folder_path") or "").rstrip("/")
    if given and PurePosixPath(given).name == name:
        return given + "/"
    return posixpath.join(given or parent, name) + "/"


def _share_entries(payload: Any, url: str, hint: str) -> list[dict[str, Any]]:
    entries = payload.get("dirent_list") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise DownloadError(f"{url} did not answer with a Seafile folder listing.", hint)
    return [e for e in entries if isinstance(e, dict)]


def list_share(
    settings: HubSettings, *, backoff: float = DEFAULT_BACKOFF, hint: str | None = None
) -> list[RemoteFile]:
    """Every file in the checkpoint share, found by walking its folders.

    ``hint`` is the manual alternative shown when the share cannot be read.
    """
    policy = DownloadPolicy.from_settings(settings, backoff)
    hint = hint or f"Check that {share_url(settings)} opens in a browser; it may have moved."
    pending, seen, files = ["/"], set(), []
    while pending:
        folder = pending.pop()
        if folder in seen:
            continue
        if len(seen) >= _MAX_SHARE_FOLDERS:
            raise DownloadError(f"The share {share_url(settings)} has too many folders.", hint)
        seen.add(folder)
        url = _dirents_url(settings, folder)
        for entry in _share_entries(get_json(url, policy, hint), url, hint):
            if entry.get("is_dir"):
                pending.append(_child_folder(entry, folder))
            else:
                path = entry.get("file_path") or posixpath.join(folder, entry.get("file_name", ""))
                files.append(
                    RemoteFile(
                        path="/" + str(path).lstrip("/"),
                        size=int(entry.get("size") or 0),
                        mtime=str(entry.get("last_modified") or ""),
                    )
                )
    return sorted(files, key=lambda f: f.path)


def _years_in(text: str) -> set[int]:
    """Years a path component mentions: '20', '2020', 'dcase20', 'DCASE2022_task2', ..."""
    spellings = {spelling: year for year in YEARS for spelling in (short_year(year), str(year))}
    return {spellings[run] for run in re.findall(r"\d+", text) if run in spellings}


def _years_of(path: str) -> set[int]:
    """Years named by the folders of a path, else by the file name."""
    pure = PurePosixPath(path)
    from_folders = set().union(*(_years_in(part) for part in pure.parent.parts))
    return from_folders or _years_in(_checkpoint_stem(pure.name))


def _checkpoint_stem(name: str) -> str:
    stem = name
    while (suffix := PurePosixPath(stem).suffix.lower()) in CHECKPOINT_SUFFIXES:
        stem = stem[: -len(suffix)]
    return stem


def _names_machine(path: str, machine: str) -> bool:
    """The file name, or its folder, has the machine type as a word (any letter case)."""
    pure = PurePosixPath(path)
    words = re.split(r"[^a-z]+", f"{_checkpoint_stem(pure.name)} {pure.parent.name}".lower())
    return machine.lower() in words


def _is_checkpoint(path: str) -> bool:
    return path.lower().endswith(CHECKPOINT_SUFFIXES)


def _listing(files: Sequence[RemoteFile], limit: int = 40) -> str:
    shown = ", ".join(f.path for f in files[:limit])
    more = f" and {len(files) - limit} more" if len(files) > limit else ""
    return (shown + more) if files else "nothing"


def find_checkpoint(
    files: Sequence[RemoteFile], year: int, machine: str, remote_path: str | None = None
) -> RemoteFile:
    """The share's checkpoint for one year and machine type.

    The share's file names are not documented, so a file matches when a folder
    (or else the file name) names the year and the file name (or its folder)
    names the machine type. ``remote_path`` picks a file explicitly. ``year``
    and ``machine`` are canonical (``MachineType``).
    """
    if remote_path is not None:
        return _by_remote_path(files, remote_path)
    candidates = [
        f
        for f in files
        if _is_checkpoint(f.path) and year in _years_of(f.path) and _names_machine(f.path, machine)
    ]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise UsageError(
            f"Several files in the share could be the {machine} (DCASE {year}) checkpoint: "
            f"{_listing(candidates)}.",
            f"Choose one with --remote-path, e.g. --remote-path {candidates[0].path}.",
        )
    raise DownloadError(
        f"Found no checkpoint for {machine} (DCASE {year}) in the share.",
        f"The share holds: {_listing(files)}. Pick the file with --remote-path PATH, "
        "or import a hand-downloaded checkpoint with --from FILE.",
    )


def _by_remote_path(files: Sequence[RemoteFile], remote_path: str) -> RemoteFile:
    wanted = "/" + remote_path.strip().lstrip("/")
    found = [f for f in files if f.path == wanted] or [
        f for f in files if f.path.lower() == wanted.lower()
    ]
    if not found:
        raise UsageError(f"The share has no file {wanted}.", f"The share holds: {_listing(files)}.")
    if not _is_checkpoint(found[0].path):
        raise UsageError(
            f"{found[0].path} is not a checkpoint file.",
            f"Pick a file ending in {', '.join(CHECKPOINT_SUFFIXES)}.",
        )
    return found[0]


def _refetch_hint(model: PublishedModel) -> str:
    return (
        f"Run `aegan fetch {model.name} --force` to download it again, "
        f"or `aegan fetch {model.name} --from FILE` to import a copy."
    )


def _cached_checkpoint(model: PublishedModel, url: str | None) -> FetchedCheckpoint | None:
    """The checkpoint already in the cache (from ``url`` when given), checked against the lock.

    A file modified since it was fetched is an error rather than silently replaced.
    """
    path = checkpoint_path(model)
    if not path.is_file():
        return None
    entry = verify_locked(path, _refetch_hint(model))
    if entry is None or (url is not None and entry.url != url):
        return None
    return FetchedCheckpoint(path, entry.url, "cached")


def fetch_checkpoint(
    model: PublishedModel,
    settings: HubSettings,
    remote_path: str | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
    backoff: float = DEFAULT_BACKOFF,
    check: Check | None = None,
) -> FetchedCheckpoint:
    """A published checkpoint, from the cache or else the share (``force``: always the share).

    ``remote_path`` names the share's file when it cannot be found by name; a
    download that ``check`` rejects leaves the cache and the lock file as they were."""
    if not force and remote_path is None:
        cached = _cached_checkpoint(model, None)
        if cached is not None:
            return cached
    hint = checkpoint_hint(settings, model)
    files = list_share(settings, backoff=backoff, hint=hint)
    remote = find_checkpoint(files, model.year, model.machine, remote_path)
    url = share_file_url(settings, remote.path)
    if not force and remote_path is not None:
        cached = _cached_checkpoint(model, url)
        if cached is not None:
            return cached
    path = dl.download(
        url,
        checkpoint_path(model),
        policy=DownloadPolicy.from_settings(settings, backoff),
        hint=hint,
        expected_size=remote.size or None,
        progress=progress,
        check=check,
    )
    return FetchedCheckpoint(path, url, "downloaded")


def _looks_like_web_page(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"{"))


def copy_checkpoint(
    src_file: Path | str, model: PublishedModel, check: Check | None = None
) -> FetchedCheckpoint:
    """Put a hand-downloaded checkpoint where ``fetch_checkpoint`` finds it, and lock it;
    a copy that ``check`` rejects leaves the cache and the lock file as they were."""
    src = Path(src_file).expanduser()
    if not src.is_file():
        raise UsageError(f"{src} is not a file.", "Give the path of the downloaded checkpoint.")
    if not _is_checkpoint(src.name):
        raise UsageError(
            f"{src.name} is not a checkpoint file.",
            f"Expected a file ending in {', '.join(CHECKPOINT_SUFFIXES)}.",
        )
    if _looks_like_web_page(src):
        raise DataError(
            f"{src} is a web page or an error message, not a checkpoint.",
            "The browser saved the page instead of the file: download the file itself.",
        )
    dest = checkpoint_path(model)
    with paths.atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
        dl.run_check(check, tmp, str(src))
    url = src.resolve().as_uri()
    record_locked(dest, url)
    return FetchedCheckpoint(dest, url, "copied")
