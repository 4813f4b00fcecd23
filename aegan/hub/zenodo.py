"""The DCASE data from Zenodo, and the eval ground truth from the official evaluators.

A machine's archives (``aegan.hub.archives``) are looked up in their Zenodo
records, which give each file's size and MD5, downloaded with
``aegan.hub.download`` and extracted into the dataset tree. Archives extracted by
an earlier fetch are skipped without any network access.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aegan import paths
from aegan.config.settings import HubSettings
from aegan.dcase.clips import machine_dir
from aegan.dcase.facts import edition
from aegan.dcase.ground_truth import ground_truth_files, ground_truth_folder
from aegan.errors import DataError, DownloadError
from aegan.hub.archives import (
    Archive,
    archive_complete,
    dcase_archives,
    extract_archive,
    write_marker,
)
from aegan.hub.download import DEFAULT_BACKOFF, DownloadPolicy, download, get_json
from aegan.hub.lockfile import already_fetched, forget_locked, turn
from aegan.progress import Progress, no_progress


@dataclass(frozen=True)
class ZenodoFile:
    key: str
    size: int
    md5: str | None
    url: str


@dataclass
class FetchSummary:
    """What a data fetch did: files downloaded and files already there (archives, or the
    ground-truth files of ``fetch_ground_truth``), the data folders and the ground truth."""

    root: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    ground_truth: list[Path] = field(default_factory=list)
    ground_truth_error: str | None = None


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


# ---------------------------------------------------------------- fetching a machine's data


def _discard_download(path: Path) -> None:
    path.unlink(missing_ok=True)
    forget_locked(path)


def data_hint(settings: HubSettings, archive: Archive, root: Path, machine: str) -> str:
    return (
        f"Download {archive.name} by hand from {record_page(settings, archive.record)} and "
        f"unzip it so that its train/ and test/ folders end up in "
        f"{machine_dir(root, archive.subset, machine)}."
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


def _fetch_archive(
    archive: Archive,
    machine: str,
    root: Path,
    remote: ZenodoFile,
    settings: HubSettings,
    progress: Progress | None,
    keep_zip: bool,
    backoff: float,
) -> bool:
    """Download (unless a verified zip is there) and extract one archive; True if downloaded."""
    hint = data_hint(settings, archive, root, machine)
    zip_path = root / archive.name
    downloaded = not already_fetched(zip_path, remote.size or None)
    if downloaded:
        download(
            remote.url,
            zip_path,
            policy=DownloadPolicy.from_settings(settings, backoff),
            hint=hint,
            expected_size=remote.size or None,
            md5=remote.md5,
            progress=progress,
        )
    try:
        counts = extract_archive(zip_path, root, machine, archive, progress)
    except DataError as exc:
        _discard_download(zip_path)
        raise DataError(f"{exc.message} The archive {zip_path} was removed.", hint) from None
    write_marker(root, archive, remote.md5, counts)
    if not keep_zip:
        _discard_download(zip_path)
    return downloaded


def fetch_dataset(
    year: int,
    machine: str,
    split: str,
    root: Path | str,
    settings: HubSettings,
    progress: Progress | None = None,
    *,
    keep_zip: bool = False,
    backoff: float = DEFAULT_BACKOFF,
) -> FetchSummary:
    """Download and extract one machine's DCASE data (and eval ground truth) under ``root``.

    Archives already extracted by an earlier fetch are skipped without any
    network access; two aegan fetching one archive take turns. The ground truth is fetched when reachable; failing that
    is reported in the summary, not raised. ``year`` and ``machine`` are
    canonical (``MachineType``).
    """
    root = Path(root).expanduser()
    summary = FetchSummary(root=root)
    listings: dict[int, list[ZenodoFile]] = {}
    archives = dcase_archives(year, machine, split)
    for archive in archives:
        summary.folders.extend(
            machine_dir(root, archive.subset, machine) / s for s in archive.splits
        )
        with turn(root / archive.name, progress or no_progress):  # another aegan may fetch it
            if archive_complete(root, archive, machine):
                summary.skipped.append(archive.name)
                continue
            paths.sweep_stale(root)  # what a killed fetch left half-extracted
            hint = data_hint(settings, archive, root, machine)
            remote = _remote_archive(archive, listings, settings, backoff, hint)
            fetched = _fetch_archive(
                archive, machine, root, remote, settings, progress, keep_zip, backoff
            )
        (summary.downloaded if fetched else summary.skipped).append(archive.name)
    truth = edition(year).ground_truth
    if (
        truth is not None
        and truth.published
        and any(a.subset == "eval" and "test" in a.splits for a in archives)
    ):
        try:
            truth = fetch_ground_truth(year, machine, root, settings, progress, backoff=backoff)
        except DownloadError as exc:
            summary.ground_truth_error = str(exc)
        else:
            summary.ground_truth = truth.ground_truth
    return summary


# ---------------------------------------------------------------- eval ground truth


def ground_truth_sources(year: int, machine: str, settings: HubSettings) -> dict[str, str]:
    """Relative path under a ground-truth folder -> download URL, for one machine type.

    The files and where they are published are ``facts.yaml``'s; the hosts are
    the hub settings' (``zenodo_url``, ``github_raw_url``), so a mirror serves them.
    """
    truth = edition(year).ground_truth
    if truth is None or not truth.published:
        return {}
    if truth.zenodo_record is not None:
        base = f"{record_page(settings, truth.zenodo_record)}/files"
    else:
        base = f"{settings.github_raw_url.rstrip('/')}/{truth.github_repo}/{truth.github_ref}"
    return {relative: f"{base}/{relative}" for relative in ground_truth_files(year, machine)}


def _ground_truth_hint(year: int, settings: HubSettings, folder: Path) -> str:
    truth = edition(year).ground_truth
    if truth is None or not truth.published:
        return f"The DCASE {year} eval labels are not published yet; nothing goes into {folder}."
    if truth.zenodo_record is not None:
        files = " and ".join(truth.files.values())
        source = f"{files} from {record_page(settings, truth.zenodo_record)}"
    else:
        folders = dict.fromkeys(Path(pattern).parent.as_posix() for pattern in truth.files.values())
        page = f"{settings.github_url.rstrip('/')}/{truth.github_repo}"
        source = f"the folders {' and '.join(folders)} of {page}"
    return f"Download {source} by hand into {folder}."


def _from_zenodo(
    record: int, relative: str, settings: HubSettings, backoff: float, hint: str
) -> ZenodoFile:
    """A file of a Zenodo record, with the size and MD5 the record gives."""
    for remote in zenodo_files(record, settings, backoff=backoff):
        if remote.key == relative:
            return remote
    raise DownloadError(f"The Zenodo record {record} has no {relative}.", hint)


def fetch_ground_truth(
    year: int,
    machine: str,
    root: Path | str,
    settings: HubSettings,
    progress: Progress | None = None,
    *,
    backoff: float = DEFAULT_BACKOFF,
) -> FetchSummary:
    """The eval-set labels of one machine, into ``root/ground_truth/`` (evaluator layout).

    ``year`` and ``machine`` are canonical (``MachineType``).
    """
    root = Path(root).expanduser()
    folder = ground_truth_folder(root)
    hint = _ground_truth_hint(year, settings, folder)
    policy = DownloadPolicy.from_settings(settings, backoff)
    summary = FetchSummary(root=root, folders=[folder])
    truth = edition(year).ground_truth
    record = None if truth is None else truth.zenodo_record
    for relative, url in ground_truth_sources(year, machine, settings).items():
        dest = folder / relative
        summary.ground_truth.append(dest)
        if already_fetched(dest):
            summary.skipped.append(relative)
            continue
        size, md5 = None, None
        if record is not None:
            remote = _from_zenodo(record, relative, settings, backoff, hint)
            url, size, md5 = remote.url, remote.size or None, remote.md5
        download(
            url, dest, policy=policy, hint=hint, expected_size=size, md5=md5, progress=progress
        )
        summary.downloaded.append(relative)
    return summary
