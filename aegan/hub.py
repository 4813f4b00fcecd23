"""Downloads: the published checkpoints (a Seafile share), the DCASE data (Zenodo)
and the eval ground truth (the official evaluators).

Every file goes through one downloader that retries with backoff, resumes a
broken transfer from its ``.part`` file with an HTTP Range request, verifies
size and MD5 when the source publishes them, renames atomically, and records
the file's SHA-256 in a lock file so that later use can detect a modified file.
Each failure is a ``DownloadError`` naming the URL and what happened, with a
hint saying how to get the file by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import posixpath
import re
import shutil
import socket
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from aegan import __version__, paths
from aegan.config import HubSettings
from aegan.dcase import AUDIO_SUFFIXES, EVAL_SECTIONS_2022, canonical_machine, normalize_year
from aegan.errors import DataError, DownloadError, UsageError
from aegan.progress import Progress, no_progress

T = TypeVar("T")

DEFAULT_BACKOFF = 1.0
"""Seconds before the first retry; each further retry waits twice as long."""

DEFAULT_RAW_BASE = "https://raw.githubusercontent.com"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar")
DATASET_SPLITS = ("dev", "eval", "all")
LOCK_NAME = "aegan.lock"
USER_AGENT = f"aegan/{__version__} (python-urllib)"

_CHUNK = 1 << 16
_MAX_SHARE_FOLDERS = 200  # bounds the listing of a share that links back on itself
_RETRYABLE_HTTP = frozenset({408, 416, 425, 429})
_MARKER_DIR = ".aegan"

GROUND_TRUTH_2022_REPO = "Kota-Dohi/dcase2022_evaluator"
GROUND_TRUTH_2022_BRANCH = "main"
GROUND_TRUTH_2022_FOLDERS = ("ground_truth_data", "ground_truth_domain")
GROUND_TRUTH_2020_RECORD = 3951620
GROUND_TRUTH_2020_FILE = "eval_data_list.csv"


# ---------------------------------------------------------------- records


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
class ZenodoFile:
    key: str
    size: int
    md5: str | None
    url: str


@dataclass(frozen=True)
class Archive:
    """One DCASE zip on Zenodo and what it holds once extracted."""

    record: int
    name: str
    subset: str
    splits: tuple[str, ...]


@dataclass(frozen=True)
class LockEntry:
    sha256: str
    size: int
    url: str
    fetched_at: str


@dataclass
class FetchSummary:
    """What a data fetch did; ``downloaded`` is empty when everything was already there."""

    root: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    ground_truth: list[Path] = field(default_factory=list)
    ground_truth_error: str | None = None


@dataclass(frozen=True)
class DownloadPolicy:
    timeout: float = 30.0
    retries: int = 3
    backoff: float = DEFAULT_BACKOFF

    @classmethod
    def from_settings(cls, settings: HubSettings, backoff: float) -> DownloadPolicy:
        return cls(timeout=settings.timeout, retries=max(0, settings.retries), backoff=backoff)


# ---------------------------------------------------------------- lock file


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
    entries = read_lock()
    entries[_lock_key(path)] = entry
    _write_lock(entries)
    return entry


def forget_locked(path: Path) -> None:
    entries = read_lock()
    if entries.pop(_lock_key(path), None) is not None:
        _write_lock(entries)


def verify_locked(path: Path) -> LockEntry | None:
    """Check a fetched file against its lock entry before use.

    Returns the entry, or None when the file was never recorded; raises a
    DownloadError when it is missing or was modified since it was fetched.
    """
    path = Path(path)
    entry = read_lock().get(_lock_key(path))
    if entry is None:
        return None
    refetch = f"Fetch it again with `aegan fetch` to replace it (it came from {entry.url})."
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


def _already_fetched(path: Path, expected_size: int | None = None) -> bool:
    """True when a locked file is present, intact and of the expected size."""
    try:
        entry = verify_locked(path)
    except DownloadError:
        return False
    return entry is not None and (expected_size is None or entry.size == expected_size)


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, read once."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


# ---------------------------------------------------------------- HTTP with retries


def _is_retryable(exc: BaseException) -> bool:
    """Server errors, timeouts and broken connections may pass; a bad URL or a 404 will not."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in _RETRYABLE_HTTP
    if isinstance(exc, http.client.InvalidURL) or (
        isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, str)
    ):
        return False
    return isinstance(exc, (OSError, http.client.HTTPException))


def _describe_failure(exc: BaseException, url: str, timeout: float) -> str:
    """What went wrong, in words a user can act on."""
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 404:
            return "not found (HTTP 404)"
        return f"the server answered HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    host = urllib.parse.urlsplit(url).hostname or url
    if isinstance(reason, str):
        return reason
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s (timeout)"
    if isinstance(reason, socket.gaierror):
        return f"the host name {host} could not be resolved (DNS failure; are you offline?)"
    if isinstance(reason, ConnectionRefusedError):
        return f"the connection to {host} was refused (server down, or are you offline?)"
    if isinstance(reason, (http.client.IncompleteRead, ConnectionError)):
        return "the connection broke off during the transfer"
    return f"{type(reason).__name__}: {reason}"


def _with_retries(action: Callable[[], T], url: str, policy: DownloadPolicy, hint: str) -> T:
    """Run one network action, retrying transient failures with exponential backoff."""
    attempts = 0
    while True:
        try:
            return action()
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # it holds the connection open otherwise
            attempts += 1
            if not _is_retryable(exc) or attempts > policy.retries:
                what = _describe_failure(exc, url, policy.timeout)
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                raise DownloadError(f"Could not download {url}: {what}{tries}.", hint) from exc
            time.sleep(policy.backoff * 2 ** (attempts - 1))


def _request(url: str, offset: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def get_json(url: str, policy: DownloadPolicy, hint: str) -> Any:
    """GET a JSON document, with retries."""

    def fetch() -> bytes:
        with urllib.request.urlopen(_request(url), timeout=policy.timeout) as response:
            return response.read()

    body = _with_retries(fetch, url, policy, hint)
    try:
        return json.loads(body)
    except ValueError:
        raise DownloadError(f"{url} did not answer with JSON.", hint) from None


# ---------------------------------------------------------------- the downloader


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept between tries."""
    return dest.with_name(dest.name + ".part")


def _disk_error(part: Path, exc: OSError) -> DownloadError:
    """A local write failure: not worth a retry, and not the server's fault."""
    return DownloadError(
        f"Cannot write {part}: {exc.strerror or exc}.",
        "Check the free disk space and the permissions of that folder.",
    )


def _open_part(part: Path, append: bool) -> Any:
    try:
        return open(part, "ab" if append else "wb")
    except OSError as exc:
        raise _disk_error(part, exc) from None


def _append_chunk(handle: Any, chunk: bytes, part: Path) -> None:
    try:
        handle.write(chunk)
    except OSError as exc:
        raise _disk_error(part, exc) from None


def _resume_offset(part: Path, expected_size: int | None) -> int:
    size = part.stat().st_size if part.is_file() else 0
    if expected_size is not None and size > expected_size:
        part.unlink()
        return 0
    return size


def _served_from(response: Any, offset: int) -> int | None:
    """Where the body starts: ``offset`` for a matching 206, 0 for a full answer (the
    server ignored Range), None for a 206 that resumes somewhere else."""
    if response.status != 206:
        return 0
    content_range = response.headers.get("Content-Range", "")
    return offset if content_range.startswith(f"bytes {offset}-") else None


def _full_size(response: Any, start: int, expected_size: int | None) -> int | None:
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else expected_size


def _download_once(
    url: str,
    part: Path,
    timeout: float,
    expected_size: int | None,
    report: Callable[[int, int | None], None],
) -> None:
    """One attempt: continue ``part`` from where it stopped (or restart if the server says so)."""
    offset = _resume_offset(part, expected_size)
    if expected_size is not None and offset == expected_size:
        return
    try:
        response = urllib.request.urlopen(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # our part does not fit the remote file: start over
            part.unlink(missing_ok=True)
        raise
    with response:
        start = _served_from(response, offset)
        if start is None:
            part.unlink(missing_ok=True)
            raise http.client.HTTPException("the server resumed at another offset than asked")
        total = _full_size(response, start, expected_size)
        done = start
        report(done, total)
        with _open_part(part, append=start > 0) as out:
            while chunk := response.read(_CHUNK):
                _append_chunk(out, chunk, part)
                done += len(chunk)
                report(done, total)
    if total is not None and done < total:
        raise http.client.IncompleteRead(b"", total - done)


def _verify(part: Path, url: str, expected_size: int | None, md5: str | None, hint: str) -> str:
    """Check size and MD5; a file that fails is removed. Returns its SHA-256."""
    size = part.stat().st_size
    actual_md5, sha256 = file_digests(part)
    problem = None
    if expected_size is not None and size != expected_size:
        problem = f"it has {size} bytes, expected {expected_size}"
    elif md5 is not None and actual_md5 != md5.lower():
        problem = f"its MD5 is {actual_md5}, expected {md5.lower()}"
    if problem:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"The file downloaded from {url} failed verification: {problem}. The file was removed.",
            f"Run the command again to download it afresh. If that fails too: {hint}",
        )
    return sha256


def download(
    url: str,
    dest: Path,
    *,
    policy: DownloadPolicy,
    hint: str,
    expected_size: int | None = None,
    md5: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download ``url`` to ``dest``: resumable, retried, verified, atomic, recorded in the lock.

    On failure only a resumable ``dest.part`` may remain.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    progress = progress or no_progress
    task = f"Downloading {dest.name}"

    def attempt() -> None:
        _download_once(url, part, policy.timeout, expected_size, lambda d, t: progress(task, d, t))

    try:
        _with_retries(attempt, url, policy, hint)
    except DownloadError as exc:
        if part.is_file() and part.stat().st_size > 0:
            kept = f" The partial download {part} is kept and resumes on the next try."
            raise DownloadError(exc.message + kept, exc.hint) from exc.__cause__
        part.unlink(missing_ok=True)
        raise
    sha256 = _verify(part, url, expected_size, md5, hint)
    os.replace(part, dest)
    record_locked(dest, url, sha256)
    return dest


# ---------------------------------------------------------------- Seafile share (checkpoints)


def share_url(settings: HubSettings) -> str:
    return f"{settings.seafile_url.rstrip('/')}/d/{settings.seafile_token}/"


def share_file_url(settings: HubSettings, file_path: str) -> str:
    quoted = urllib.parse.quote(file_path, safe="/")
    return f"{settings.seafile_url.rstrip('/')}/d/{settings.seafile_token}/files/?p={quoted}&dl=1"


def _dirents_url(settings: HubSettings, folder: str) -> str:
    query = urllib.parse.urlencode({"path": folder})
    base = settings.seafile_url.rstrip("/")
    return f"{base}/api/v2.1/share-links/{settings.seafile_token}/dirents/?{query}"


def model_name(year: int, machine: str) -> str:
    """The registry name of a published model, e.g. ``fan22``."""
    return f"{machine}{str(year)[2:]}"


def checkpoint_hint(settings: HubSettings, year: int, machine: str) -> str:
    return (
        f"Download it by hand: open {share_url(settings)} in a browser, download the "
        f"checkpoint, then run `aegan fetch {model_name(year, machine)} --from FILE`."
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
    runs = re.findall(r"\d+", text)
    return {2000 + int(r[-2:]) for r in runs if r in ("20", "22", "2020", "2022")}


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
    files: Sequence[RemoteFile], year: int | str, machine: str, remote_path: str | None = None
) -> RemoteFile:
    """The share's checkpoint for one year and machine type.

    The share's file names are not documented, so a file matches when a folder
    (or else the file name) names the year and the file name (or its folder)
    names the machine type. ``remote_path`` picks a file explicitly.
    """
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
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
        f"The share holds: {_listing(files)}. Pick the file with --remote-path PATH.",
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


def checkpoints_folder(year: int) -> Path:
    return paths.checkpoints_dir() / f"dcase{year}"


def _cached_checkpoint(year: int, machine: str, remote_path: str | None) -> Path | None:
    """An intact, locked checkpoint already in the cache, so no network is needed."""
    folder = checkpoints_folder(year)
    if remote_path is not None:
        path = folder / PurePosixPath(remote_path).name
        return path if _already_fetched(path) else None
    if not folder.is_dir():
        return None
    found = [
        p
        for p in sorted(folder.iterdir())
        if _is_checkpoint(p.name) and _names_machine(p.name, machine) and _already_fetched(p)
    ]
    return found[0] if len(found) == 1 else None


def fetch_checkpoint(
    year: int | str,
    machine: str,
    settings: HubSettings,
    remote_path: str | None = None,
    progress: Progress | None = None,
    *,
    backoff: float = DEFAULT_BACKOFF,
) -> Path:
    """The published checkpoint of one machine, from the cache or else the share."""
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    cached = _cached_checkpoint(year, machine, remote_path)
    if cached is not None:
        return cached
    hint = checkpoint_hint(settings, year, machine)
    files = list_share(settings, backoff=backoff, hint=hint)
    remote = find_checkpoint(files, year, machine, remote_path)
    return download(
        share_file_url(settings, remote.path),
        checkpoints_folder(year) / remote.name,
        policy=DownloadPolicy.from_settings(settings, backoff),
        hint=hint,
        expected_size=remote.size or None,
        progress=progress,
    )


def _looks_like_web_page(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512).lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"{"))


def import_checkpoint(src_file: Path | str, year: int | str, machine: str) -> Path:
    """Copy a hand-downloaded checkpoint into the cache where ``fetch_checkpoint`` finds it."""
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
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
    name = src.name if _names_machine(src.name, machine) else f"{machine}_{src.name}"
    dest = checkpoints_folder(year) / name
    with paths.atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    record_locked(dest, src.resolve().as_uri())
    return dest


# ---------------------------------------------------------------- Zenodo


def record_page(settings: HubSettings, record_id: int) -> str:
    return f"{settings.zenodo_url.rstrip('/')}/records/{record_id}"


def _zenodo_entries(payload: Any) -> list[dict[str, Any]]:
    files = payload.get("files") if isinstance(payload, dict) else None
    if isinstance(files, dict):  # the newer API nests them: {"entries": [...] or {...}}
        files = files.get("entries")
        files = list(files.values()) if isinstance(files, dict) else files
    return [f for f in files or [] if isinstance(f, dict)]


def _zenodo_file(entry: dict[str, Any], settings: HubSettings, record_id: int) -> ZenodoFile:
    key = str(entry.get("key") or entry.get("filename") or "")
    links = entry.get("links") if isinstance(entry.get("links"), dict) else {}
    quoted = urllib.parse.quote(key)
    fallback = f"{record_page(settings, record_id)}/files/{quoted}?download=1"
    algorithm, _, digest = str(entry.get("checksum") or "").partition(":")
    return ZenodoFile(
        key=key,
        size=int(entry.get("size") or entry.get("filesize") or 0),
        md5=digest.lower() if algorithm.lower() == "md5" and digest else None,
        url=str(links.get("content") or links.get("self") or fallback),
    )


def zenodo_files(
    record_id: int,
    settings: HubSettings | None = None,
    *,
    backoff: float = DEFAULT_BACKOFF,
) -> list[ZenodoFile]:
    """The files of a Zenodo record, with size, MD5 and download URL."""
    settings = settings or HubSettings()
    url = f"{settings.zenodo_url.rstrip('/')}/api/records/{record_id}"
    hint = f"Open {record_page(settings, record_id)} in a browser and download the files by hand."
    payload = get_json(url, DownloadPolicy.from_settings(settings, backoff), hint)
    files = [_zenodo_file(e, settings, record_id) for e in _zenodo_entries(payload)]
    if not files:
        raise DownloadError(f"The Zenodo record {url} lists no files.", hint)
    return files


_ARCHIVES: dict[int, tuple[tuple[int, str, str, tuple[str, ...]], ...]] = {
    2020: (
        (3678171, "dev_data_{m}.zip", "dev", ("train", "test")),
        (3727685, "eval_data_train_{m}.zip", "eval", ("train",)),
        (3841772, "eval_data_test_{m}.zip", "eval", ("test",)),
    ),
    2022: (
        (6355122, "dev_{m}.zip", "dev", ("train", "test")),
        (6462969, "eval_data_{m}_train.zip", "eval", ("train",)),
        (6586456, "eval_data_{m}_test.zip", "eval", ("test",)),
    ),
}


def dcase_archives(year: int | str, machine: str, split: str) -> list[Archive]:
    """The Zenodo zips holding one machine's data: ``split`` is dev, eval or all."""
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    if split not in DATASET_SPLITS:
        raise UsageError(
            f"Unknown data split {split!r}.", f"Use one of: {', '.join(DATASET_SPLITS)}."
        )
    return [
        Archive(record, pattern.format(m=machine), subset, splits)
        for record, pattern, subset, splits in _ARCHIVES[year]
        if split in ("all", subset)
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


def check_archive(zip_file: zipfile.ZipFile, source: Path) -> None:
    """Refuse the whole archive if any entry could write outside the target folder."""
    for info in zip_file.infolist():
        reason = _unsafe_reason(info)
        if reason:
            raise DataError(
                f"Refusing to extract {source.name}: its entry {info.filename!r} is {reason}. "
                "Nothing was extracted.",
                "The archive is damaged or not the official one; delete it and download it again.",
            )


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES


def _audio_count(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if _is_audio(p)) if folder.is_dir() else 0


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


def machine_split_dir(root: Path, subset: str, machine: str, split: str) -> Path:
    return Path(root) / f"{subset}_data" / machine / split


def extract_archive(
    zip_path: Path, root: Path, machine: str, archive: Archive, progress: Progress | None = None
) -> dict[str, int]:
    """Extract a DCASE zip into ``root/<subset>_data/<machine>/<split>/``.

    The archive is checked first and unpacked into a staging folder, so an
    unsafe or malformed archive leaves nothing behind. Returns files per split.
    """
    progress = progress or no_progress
    staging = Path(root) / f".{archive.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(zip_path) as zip_file:
            check_archive(zip_file, zip_path)
            members = zip_file.infolist()
            for index, member in enumerate(members, 1):
                zip_file.extract(member, staging)
                progress(f"Extracting {archive.name}", index, len(members))
        counts = {}
        for split in archive.splits:
            source = _split_folder(staging, split, machine, archive)
            target = machine_split_dir(root, archive.subset, machine, split)
            target.mkdir(parents=True, exist_ok=True)
            moved = [p for p in sorted(source.iterdir()) if _is_audio(p)]
            for path in moved:
                os.replace(path, target / path.name)
            counts[split] = len(moved)
        return counts
    except zipfile.BadZipFile as exc:
        raise DataError(
            f"{zip_path} is not a valid zip archive ({exc}).",
            "Delete it and download it again.",
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------- data sets


def _marker_path(root: Path, archive: Archive) -> Path:
    return Path(root) / _MARKER_DIR / f"{archive.name}.json"


def _archive_complete(root: Path, archive: Archive, machine: str) -> bool:
    """True when a previous fetch extracted this archive and its files are still there."""
    marker = _marker_path(root, archive)
    try:
        counts = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(
        _audio_count(machine_split_dir(root, archive.subset, machine, split)) >= int(count)
        for split, count in counts.items()
    )


def _write_marker(root: Path, archive: Archive, md5: str | None, counts: dict[str, int]) -> None:
    data = {
        "archive": archive.name,
        "record": archive.record,
        "md5": md5,
        "files": counts,
        "extracted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    paths.write_text_atomic(_marker_path(root, archive), json.dumps(data, indent=2) + "\n")


def _discard_download(path: Path) -> None:
    path.unlink(missing_ok=True)
    forget_locked(path)


def data_hint(settings: HubSettings, archive: Archive, root: Path, machine: str) -> str:
    return (
        f"Download {archive.name} by hand from {record_page(settings, archive.record)} and "
        f"unzip it so that its train/ and test/ folders end up in "
        f"{Path(root) / f'{archive.subset}_data' / machine}."
    )


def _remote_archive(
    archive: Archive,
    listings: dict[int, list[ZenodoFile]],
    settings: HubSettings,
    backoff: float,
    hint: str,
) -> ZenodoFile:
    if archive.record not in listings:
        listings[archive.record] = zenodo_files(archive.record, settings, backoff=backoff)
    for remote in listings[archive.record]:
        if remote.key == archive.name:
            return remote
    keys = ", ".join(f.key for f in listings[archive.record])
    raise DownloadError(
        f"The Zenodo record {archive.record} has no file {archive.name}; it holds: {keys}.", hint
    )


def fetch_dataset(
    year: int | str,
    machine: str,
    split: str,
    root: Path | str,
    settings: HubSettings,
    progress: Progress | None = None,
    *,
    keep_zip: bool = False,
    raw_base: str = DEFAULT_RAW_BASE,
    backoff: float = DEFAULT_BACKOFF,
) -> FetchSummary:
    """Download and extract one machine's DCASE data (and eval ground truth) under ``root``.

    Archives already extracted by an earlier fetch are skipped without any
    network access. The ground truth is fetched when reachable; failing that
    is reported in the summary, not raised.
    """
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    root = Path(root).expanduser()
    summary = FetchSummary(root=root)
    policy = DownloadPolicy.from_settings(settings, backoff)
    listings: dict[int, list[ZenodoFile]] = {}
    archives = dcase_archives(year, machine, split)
    for archive in archives:
        summary.folders.extend(
            machine_split_dir(root, archive.subset, machine, s) for s in archive.splits
        )
        if _archive_complete(root, archive, machine):
            summary.skipped.append(archive.name)
            continue
        hint = data_hint(settings, archive, root, machine)
        remote = _remote_archive(archive, listings, settings, backoff, hint)
        zip_path = root / archive.name
        if not _already_fetched(zip_path, remote.size or None):
            download(
                remote.url,
                zip_path,
                policy=policy,
                hint=hint,
                expected_size=remote.size or None,
                md5=remote.md5,
                progress=progress,
            )
            summary.downloaded.append(archive.name)
        try:
            counts = extract_archive(zip_path, root, machine, archive, progress)
        except DataError as exc:
            _discard_download(zip_path)
            raise DataError(f"{exc.message} The archive {zip_path} was removed.", hint) from None
        _write_marker(root, archive, remote.md5, counts)
        if not keep_zip:
            _discard_download(zip_path)
    if any(a.subset == "eval" and "test" in a.splits for a in archives):
        try:
            truth = fetch_ground_truth(
                year, machine, root, settings, progress, raw_base=raw_base, backoff=backoff
            )
        except DownloadError as exc:
            summary.ground_truth_error = str(exc)
        else:
            summary.ground_truth = truth.ground_truth
            summary.downloaded.extend(truth.downloaded)
            summary.skipped.extend(truth.skipped)
    return summary


# ---------------------------------------------------------------- eval ground truth


def ground_truth_dir(root: Path | str) -> Path:
    return Path(root) / "ground_truth"


def ground_truth_files(year: int | str, machine: str) -> list[str]:
    """Paths of the official evaluator's ground-truth files, relative to its repository."""
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    if year == 2020:
        return [GROUND_TRUTH_2020_FILE]
    return [
        f"{folder}/ground_truth_{machine}_section_{section}_test.csv"
        for folder in GROUND_TRUTH_2022_FOLDERS
        for section in EVAL_SECTIONS_2022
    ]


def ground_truth_url(relative: str, raw_base: str = DEFAULT_RAW_BASE) -> str:
    """Raw download URL of a 2022 evaluator file."""
    repo, branch = GROUND_TRUTH_2022_REPO, GROUND_TRUTH_2022_BRANCH
    return f"{raw_base.rstrip('/')}/{repo}/{branch}/{relative}"


def _ground_truth_hint(year: int, settings: HubSettings, folder: Path) -> str:
    if year == 2020:
        source = f"{GROUND_TRUTH_2020_FILE} from {record_page(settings, GROUND_TRUTH_2020_RECORD)}"
    else:
        repo = f"https://github.com/{GROUND_TRUTH_2022_REPO}"
        source = f"the folders {' and '.join(GROUND_TRUTH_2022_FOLDERS)} of {repo}"
    return f"Download {source} by hand into {folder}."


def _ground_truth_source(
    year: int,
    relative: str,
    settings: HubSettings,
    raw_base: str,
    backoff: float,
    hint: str,
) -> tuple[str, int | None, str | None]:
    """(url, size, md5) of one ground-truth file."""
    if year == 2022:
        return ground_truth_url(relative, raw_base), None, None
    for remote in zenodo_files(GROUND_TRUTH_2020_RECORD, settings, backoff=backoff):
        if remote.key == relative:
            return remote.url, remote.size or None, remote.md5
    raise DownloadError(f"The Zenodo record {GROUND_TRUTH_2020_RECORD} has no {relative}.", hint)


def fetch_ground_truth(
    year: int | str,
    machine: str,
    root: Path | str,
    settings: HubSettings,
    progress: Progress | None = None,
    *,
    raw_base: str = DEFAULT_RAW_BASE,
    backoff: float = DEFAULT_BACKOFF,
) -> FetchSummary:
    """The eval-set labels of one machine, into ``root/ground_truth/`` (evaluator layout)."""
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    root = Path(root).expanduser()
    folder = ground_truth_dir(root)
    hint = _ground_truth_hint(year, settings, folder)
    policy = DownloadPolicy.from_settings(settings, backoff)
    summary = FetchSummary(root=root, folders=[folder])
    for relative in ground_truth_files(year, machine):
        dest = folder / relative
        summary.ground_truth.append(dest)
        if _already_fetched(dest):
            summary.skipped.append(relative)
            continue
        url, size, md5 = _ground_truth_source(year, relative, settings, raw_base, backoff, hint)
        download(
            url, dest, policy=policy, hint=hint, expected_size=size, md5=md5, progress=progress
        )
        summary.downloaded.append(relative)
    return summary
