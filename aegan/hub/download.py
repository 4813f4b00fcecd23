"""One careful downloader for everything aegan fetches.

``download`` retries transient failures with backoff, resumes a broken
transfer from its ``.part`` file with an HTTP Range request, verifies size and
MD5 when the source publishes them, renames atomically and records the file's
SHA-256 in the lock file (``aegan.hub.lockfile``), so that later use can tell a
modified file from the one fetched. Each failure is a ``DownloadError`` naming
the URL and what happened, with a hint saying how to get the file by hand.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from aegan.config.settings import HubSettings
from aegan.errors import AeganError, DownloadError
from aegan.hub.lockfile import already_fetched, record_locked, turn
from aegan.paths import file_digests
from aegan.progress import Progress, no_progress

T = TypeVar("T")

DEFAULT_BACKOFF = 1.0
"""Seconds before the first retry; each further retry waits twice as long."""

USER_AGENT = f"aegan/{version('aegan')} (python-urllib)"

_CHUNK = 1 << 16
_RETRYABLE_HTTP = frozenset({408, 416, 425, 429})


@dataclass(frozen=True)
class DownloadPolicy:
    timeout: float = 30.0
    retries: int = 3
    backoff: float = DEFAULT_BACKOFF

    @classmethod
    def from_settings(cls, settings: HubSettings, backoff: float) -> DownloadPolicy:
        return cls(timeout=settings.timeout, retries=max(0, settings.retries), backoff=backoff)


Check = Callable[[Path], object]
"""Inspects a fetched file before it enters the cache; raises to reject it."""


def run_check(check: Check | None, staged: Path, shown: str) -> None:
    """``check`` the staged file; a refusal names ``shown`` (what the user knows), not
    the temporary file."""
    if check is None:
        return
    try:
        check(staged)
    except AeganError as exc:
        exc.message = exc.message.replace(str(staged), shown)
        exc.args = (exc.message,)
        raise


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
    check: Check | None = None,
) -> Path:
    """Download ``url`` to ``dest``: resumable, retried, verified, atomic, recorded in the lock.

    ``check`` inspects the complete download before it replaces ``dest``; a file
    it rejects (by raising) is removed, and ``dest`` and the lock stay as they were.
    On failure only a resumable ``dest.part`` may remain. Two processes
    downloading one ``dest`` take turns (the second finds the file there).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    progress = progress or no_progress
    with turn(dest, progress) as waited:
        if waited and already_fetched(dest, expected_size):
            return dest  # the other aegan fetched it
        part = part_path(dest)
        task = f"Downloading {dest.name}"

        def attempt() -> None:
            _download_once(
                url, part, policy.timeout, expected_size, lambda d, t: progress(task, d, t)
            )

        try:
            _with_retries(attempt, url, policy, hint)
        except DownloadError as exc:
            if part.is_file() and part.stat().st_size > 0:
                kept = f" The partial download {part} is kept and resumes on the next try."
                raise DownloadError(exc.message + kept, exc.hint) from exc.__cause__
            part.unlink(missing_ok=True)
            raise
        sha256 = _verify(part, url, expected_size, md5, hint)
        try:
            run_check(check, part, f"the file downloaded from {url}")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, dest)
        record_locked(dest, url, sha256)
        return dest
