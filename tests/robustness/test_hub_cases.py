"""Corpus cases: what the operating system refuses while fetching data."""

from __future__ import annotations

import errno
import zipfile

from fake_servers import ZenodoRecord, zip_bytes

from tests.robustness.corpus import Case, Workspace, corpus_test, use_hub

pytest_plugins = ["fake_servers"]  # the fake_hub fixture

DATA = ["fetch", "--data", "fan", "--split", "dev", "-d", "{tmp}/data"]


def disk_full_while_extracting(ws: Workspace) -> None:
    hub = ws.fixture("fake_hub")
    clips = {f"fan/{split}/section_00_source_{split}_normal_0000_a.wav": b"RIFF"
             for split in ("train", "test")}  # fmt: skip
    hub.zenodo[6355122] = ZenodoRecord({"dev_fan.zip": zip_bytes(clips)})
    use_hub(hub)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")  # as a full disk: no path

    ws.fixture("monkeypatch").setattr(zipfile.ZipFile, "extract", full)


CASES = [
    Case("disk full during extraction", DATA, 1,
         r"Error: Cannot extract dev_fan\.zip into \S+/ws/data: No space left on device\. "
         r"Free disk space on the drive of \S+/ws/data", disk_full_while_extracting,
         unchanged=()),
]  # fmt: skip

test_cases = corpus_test(CASES)
