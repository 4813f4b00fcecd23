"""What is available to fetch: the published models and DCASE archives, remote and here.

``aegan fetch --list`` asks the Seafile share and Zenodo for names and sizes
only (with a short timeout), and says what is already on this machine; a
server that does not answer makes the overview offline, never a failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from aegan.bundles.registry import (
    PUBLISHED,
    PublishedModel,
    model_listing,
)
from aegan.config.settings import HubSettings
from aegan.dcase.facts import MACHINES
from aegan.errors import AeganError, DownloadError
from aegan.hub.archives import Archive, archive_complete, dcase_archives
from aegan.hub.seafile import (
    RemoteFile,
    find_checkpoint,
    list_share,
)
from aegan.hub.zenodo import ZenodoFile, zenodo_files

if TYPE_CHECKING:
    pass

T = TypeVar("T")

LISTING_TIMEOUT = 10.0
"""Seconds an overview waits for a server: it only asks for sizes."""


@dataclass(frozen=True)
class ModelAvailability:
    """A published model: its state here (as ``aegan models`` shows it) and the share's file."""

    model: PublishedModel
    state: str
    remote: RemoteFile | None


@dataclass(frozen=True)
class ArchiveAvailability:
    """A DCASE archive: extracted under the year's root or not, and its Zenodo entry."""

    year: int
    machine: str
    archive: Archive
    extracted: bool
    remote: ZenodoFile | None


@dataclass
class Availability:
    """Published models and DCASE archives; ``offline`` says why remote sizes are unknown."""

    models: list[ModelAvailability]
    archives: list[ArchiveAvailability]
    offline: str | None = None
    unreadable: list[Path] = field(default_factory=list)  # skipped files of the models folder


class _Remote:
    """Asks the network until the first failure, then stops asking and remembers why,
    so that an overview does not wait through one timeout after another when offline."""

    def __init__(self, settings: HubSettings) -> None:
        timeout = min(settings.timeout, LISTING_TIMEOUT)
        self.settings = dataclasses.replace(settings, retries=0, timeout=timeout)
        self.offline: str | None = None
        self._records: dict[int, list[ZenodoFile] | None] = {}

    def share(self) -> list[RemoteFile] | None:
        return self._ask(lambda: list_share(self.settings))

    def archive(self, archive: Archive) -> ZenodoFile | None:
        if archive.record not in self._records:
            self._records[archive.record] = self._ask(
                lambda: zenodo_files(archive.record, self.settings)
            )
        files = self._records[archive.record] or []
        return next((f for f in files if f.key == archive.name), None)

    def _ask(self, action: Callable[[], T]) -> T | None:
        if self.offline is not None:
            return None
        try:
            return action()
        except DownloadError as exc:
            self.offline = exc.message
            return None


def _share_file(files: list[RemoteFile] | None, model: PublishedModel) -> RemoteFile | None:
    if files is None:
        return None
    try:
        return find_checkpoint(files, model.year, model.machine)
    except AeganError:  # not in the share, or several candidates
        return None


def availability(
    years: Sequence[int], roots: Mapping[int, Path], settings: HubSettings
) -> Availability:
    """Every published model and DCASE archive of ``years``: here, and remotely when reachable.

    ``roots`` gives each year's dataset root, where extracted archives are looked for.
    """
    remote = _Remote(settings)
    entries, unreadable = model_listing()
    states = {e.name: e.state for e in entries if e.published is not None}
    files = remote.share()
    models = [
        ModelAvailability(m, states[m.name], _share_file(files, m))
        for m in PUBLISHED
        if m.year in years
    ]
    archives = [
        ArchiveAvailability(
            year=year,
            machine=machine,
            archive=archive,
            extracted=archive_complete(roots[year], archive, machine),
            remote=remote.archive(archive),
        )
        for year in years
        for machine in MACHINES[year]
        for archive in dcase_archives(year, machine, "all")
    ]
    return Availability(models, archives, remote.offline, unreadable)
