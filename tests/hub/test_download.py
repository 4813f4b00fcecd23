"""The downloader and the lock file, against the local fake server (tests/fake_servers.py)."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from fake_servers import FakeHub

from aegan.errors import DownloadError
from aegan.hub import download as dl
from aegan.hub import lockfile

pytest_plugins = ["fake_servers"]  # the fake_hub and closed_port_url fixtures

PAYLOAD = bytes(range(256)) * 400  # 100 KiB, several read chunks
HINT = "Download it by hand from the mirror."


def policy(timeout: float = 2.0, retries: int = 2) -> dl.DownloadPolicy:
    return dl.DownloadPolicy(timeout=timeout, retries=retries, backoff=0.001)


@pytest.fixture
def served(fake_hub: FakeHub) -> str:
    """The URL of a 100 KiB file on the fake server."""
    fake_hub.raw["/files/model.pth"] = PAYLOAD
    return f"{fake_hub.url}/files/model.pth"


def fetch(url: str, dest: Path, **kwargs: object) -> Path:
    options = {"policy": policy(), "hint": HINT, **kwargs}
    return dl.download(url, dest, **options)  # type: ignore[arg-type]


def test_download_verifies_renames_and_records_the_file(served: str, tmp_path: Path) -> None:
    seen: list[tuple[str, float, float | None]] = []
    dest = fetch(
        served, tmp_path / "m.pth", expected_size=len(PAYLOAD), progress=lambda *a: seen.append(a)
    )
    assert dest.read_bytes() == PAYLOAD
    assert not dl.part_path(dest).exists()
    entry = lockfile.verify_locked(dest)
    assert entry is not None and entry.url == served
    assert entry.sha256 == hashlib.sha256(PAYLOAD).hexdigest() and entry.size == len(PAYLOAD)
    assert seen[-1] == ("Downloading m.pth", len(PAYLOAD), len(PAYLOAD))


def test_lock_keys_inside_the_cache_are_relative_so_the_cache_can_move(
    served: str, aegan_home: Path
) -> None:
    dest = fetch(served, aegan_home / "cache" / "checkpoints" / "m.pth")
    assert list(json.loads(lockfile.lock_path().read_text())) == ["checkpoints/m.pth"]
    assert lockfile.already_fetched(dest, len(PAYLOAD))
    assert not lockfile.already_fetched(dest, len(PAYLOAD) + 1)


def test_a_modified_file_is_caught_with_a_way_to_fetch_it_again(
    served: str, tmp_path: Path
) -> None:
    dest = fetch(served, tmp_path / "m.pth")
    dest.write_bytes(b"tampered" + PAYLOAD[8:])
    with pytest.raises(DownloadError, match="modified since it was fetched") as caught:
        lockfile.verify_locked(dest)
    assert served in caught.value.hint
    assert not lockfile.already_fetched(dest)
    with pytest.raises(DownloadError, match="use --force"):
        lockfile.verify_locked(dest, hint="use --force")


def test_resume_after_a_cut_connection_uses_range_and_is_byte_exact(
    fake_hub: FakeHub, served: str, tmp_path: Path
) -> None:
    fake_hub.add_fault(match="/files/", cut_after=30000, times=1)
    assert fetch(served, tmp_path / "m.pth").read_bytes() == PAYLOAD
    assert [r.range for r in fake_hub.requests_to("/files/")] == [None, "bytes=30000-"]


def test_server_ignoring_range_restarts_the_file_cleanly(
    fake_hub: FakeHub, served: str, tmp_path: Path
) -> None:
    fake_hub.add_fault(match="/files/", cut_after=30000, times=1)
    fake_hub.add_fault(match="/files/", ignore_range=True)
    assert fetch(served, tmp_path / "m.pth").read_bytes() == PAYLOAD
    assert fake_hub.requests_to("/files/")[1].range == "bytes=30000-"


def test_broken_transfer_keeps_a_part_file_that_the_next_run_resumes(
    fake_hub: FakeHub, served: str, tmp_path: Path
) -> None:
    fake_hub.add_fault(match="/files/", cut_after=20000, times=3)
    dest = tmp_path / "m.pth"
    with pytest.raises(DownloadError) as caught:
        fetch(served, dest)
    assert "broke off" in caught.value.message and "resumes" in caught.value.message
    assert not dest.exists()
    assert dl.part_path(dest).stat().st_size == 60000
    assert fetch(served, dest).read_bytes() == PAYLOAD
    assert fake_hub.requests_to("/files/")[-1].range == "bytes=60000-"


def test_a_wrong_size_is_refused_and_the_file_removed(served: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="failed verification.*expected 5") as caught:
        fetch(served, tmp_path / "m.pth", expected_size=5)
    assert HINT in caught.value.hint
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 404}, "not found (HTTP 404)"),
        ({"status": 500}, "HTTP 500"),
        ({"delay": 1.5}, "no answer within 0.5 s (timeout) after 2 attempts"),
    ],
)
def test_failures_name_the_url_what_happened_and_the_manual_way(
    fake_hub: FakeHub, served: str, tmp_path: Path, fault: dict, expected: str
) -> None:
    fake_hub.add_fault(match="/files/", **fault)
    with pytest.raises(DownloadError) as caught:
        fetch(served, tmp_path / "m.pth", policy=policy(timeout=0.5, retries=1))
    assert expected in caught.value.message and served in caught.value.message
    assert caught.value.hint == HINT
    assert list(tmp_path.iterdir()) == []


def test_not_found_is_not_retried_but_server_errors_are(
    fake_hub: FakeHub, served: str, tmp_path: Path
) -> None:
    fake_hub.add_fault(match="/files/", status=404)
    with pytest.raises(DownloadError):
        fetch(served, tmp_path / "m.pth")
    assert len(fake_hub.requests_to("/files/")) == 1
    fake_hub.faults.clear()
    fake_hub.add_fault(match="/files/", status=503, times=2)
    fetch(served, tmp_path / "m.pth")
    assert len(fake_hub.requests_to("/files/")) == 1 + 3


def test_connection_refused_says_so(closed_port_url: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        fetch(f"{closed_port_url}/x.pth", tmp_path / "x.pth", policy=policy(retries=0))
    assert "refused" in caught.value.message and closed_port_url in caught.value.message


def test_dns_failure_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DownloadError) as caught:
        dl.get_json("http://zenodo.invalid/api/records/1", policy(retries=0), HINT)
    assert "DNS" in caught.value.message and "zenodo.invalid" in caught.value.message


def test_an_answer_that_is_not_json_is_reported(fake_hub: FakeHub) -> None:
    fake_hub.raw["/api/page"] = b"<html>maintenance</html>"
    with pytest.raises(DownloadError, match="did not answer with JSON"):
        dl.get_json(f"{fake_hub.url}/api/page", policy(), HINT)


def test_a_download_the_check_rejects_leaves_the_file_and_the_lock_as_they_were(
    served: str, fake_hub: FakeHub, tmp_path: Path
) -> None:
    dest = fetch(served, tmp_path / "m.pth")
    before = dest.read_bytes(), lockfile.lock_path().read_bytes()
    fake_hub.raw["/files/model.pth"] = b"a different, bad file"

    def reject(path: Path) -> None:
        raise DownloadError(f"{path.name} is no good")

    with pytest.raises(DownloadError, match="no good"):
        fetch(served, dest, check=reject)
    assert (dest.read_bytes(), lockfile.lock_path().read_bytes()) == before
    assert not dl.part_path(dest).exists()
