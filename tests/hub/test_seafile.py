"""The checkpoint share (a Seafile fake, tests/fake_servers.py) and the checkpoint cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fake_servers import SHARE_TOKEN, FakeHub

from aegan.bundles import registry
from aegan.config.settings import HubSettings
from aegan.errors import DataError, DownloadError, UsageError
from aegan.hub import lockfile
from aegan.hub import seafile as hub

pytest_plugins = ["fake_servers"]  # the fake_hub, hub_settings and closed_port_url fixtures

BACKOFF = 0.001
CHECKPOINT = bytes(range(256)) * 400  # 100 KiB, several read chunks
FAN20 = registry.require_published("fan20")
FAN22 = registry.require_published("fan22")
TOYCAR22 = registry.require_published("ToyCar22")


def remote(path: str, size: int = 10) -> hub.RemoteFile:
    return hub.RemoteFile(path=path, size=size, mtime="")


@pytest.fixture
def share(fake_hub: FakeHub) -> FakeHub:
    fake_hub.share.update(
        {
            "/README.md": b"readme",
            "/dcase20/fan.pth": CHECKPOINT,
            "/dcase20/ToyCar.pth": b"toycar20",
            "/dcase22/ToyCar_hmean.pth": b"toycar22",
        }
    )
    return fake_hub


# ---------------------------------------------------------------- share listing and matching


def test_list_share_walks_every_folder(share: FakeHub, hub_settings: HubSettings) -> None:
    files = hub.list_share(hub_settings, backoff=BACKOFF)
    assert [f.path for f in files] == [
        "/README.md",
        "/dcase20/ToyCar.pth",
        "/dcase20/fan.pth",
        "/dcase22/ToyCar_hmean.pth",
    ]
    assert files[2].size == len(CHECKPOINT)
    assert files[2].mtime.startswith("2022-06-01")


def test_find_checkpoint_by_year_folder_and_machine_in_any_case() -> None:
    files = [
        remote("/DCASE2020/fan_best.pth"),
        remote("/dcase22/fan.pt"),
        remote("/2022/ToyCar.pth.tar"),
        remote("/dcase20/notes.txt"),
    ]
    assert hub.find_checkpoint(files, 2020, "fan").path == "/DCASE2020/fan_best.pth"
    assert hub.find_checkpoint(files, 2022, "fan").path == "/dcase22/fan.pt"
    assert hub.find_checkpoint(files, 2022, "ToyCar").path == "/2022/ToyCar.pth.tar"


def test_find_checkpoint_does_not_confuse_similar_names() -> None:
    files = [remote("/dcase20/ToyConveyor.pth"), remote("/dcase20/ToyCar.pth")]
    assert hub.find_checkpoint(files, 2020, "ToyCar").path == "/dcase20/ToyCar.pth"


def test_ambiguous_checkpoint_lists_candidates_and_suggests_remote_path() -> None:
    files = [remote("/dcase22/fan.pth"), remote("/dcase22/fan_epoch50.pth")]
    with pytest.raises(UsageError) as caught:
        hub.find_checkpoint(files, 2022, "fan")
    assert "/dcase22/fan.pth" in caught.value.message
    assert "/dcase22/fan_epoch50.pth" in caught.value.message
    assert "--remote-path" in caught.value.hint


def test_missing_checkpoint_lists_what_the_share_holds() -> None:
    files = [remote("/dcase22/fan.pth"), remote("/dcase22/slider.pth")]
    with pytest.raises(DownloadError) as caught:
        hub.find_checkpoint(files, 2020, "fan")
    assert "fan (DCASE 2020)" in caught.value.message
    assert "/dcase22/fan.pth" in caught.value.hint and "/dcase22/slider.pth" in caught.value.hint


def test_remote_path_picks_the_file_explicitly() -> None:
    files = [remote("/dcase22/fan.pth"), remote("/misc/model_a.pth"), remote("/misc/..")]
    assert hub.find_checkpoint(files, 2022, "fan", "misc/MODEL_A.pth").path == "/misc/model_a.pth"
    with pytest.raises(UsageError, match=r"no file /misc/nope\.pth"):
        hub.find_checkpoint(files, 2022, "fan", "/misc/nope.pth")
    with pytest.raises(UsageError, match="not a checkpoint file"):
        hub.find_checkpoint(files, 2022, "fan", "/misc/..")


# ---------------------------------------------------------------- checkpoint download


def test_fetch_checkpoint_downloads_into_the_cache_and_locks_it(
    share: FakeHub, hub_settings: HubSettings
) -> None:
    seen: list[tuple[str, float, float | None]] = []
    fetched = hub.fetch_checkpoint(
        FAN20, hub_settings, progress=lambda *a: seen.append(a), backoff=BACKOFF
    )
    assert fetched.path == registry.checkpoint_path(FAN20)
    assert fetched.action == "downloaded"
    assert fetched.path.read_bytes() == CHECKPOINT
    entry = json.loads(lockfile.lock_path().read_text())["checkpoints/fan20.pth"]
    assert entry["sha256"] == hashlib.sha256(CHECKPOINT).hexdigest()
    assert entry["url"] == fetched.url
    assert fetched.url == f"{share.url}/d/{SHARE_TOKEN}/files/?p=/dcase20/fan.pth&dl=1"
    assert seen[-1][1:] == (len(CHECKPOINT), len(CHECKPOINT))


def test_second_fetch_of_a_locked_checkpoint_uses_no_network(
    share: FakeHub, hub_settings: HubSettings
) -> None:
    first = hub.fetch_checkpoint(FAN20, hub_settings, backoff=BACKOFF)
    before = len(share.requests)
    again = hub.fetch_checkpoint(FAN20, hub_settings, backoff=BACKOFF)
    assert (again.path, again.action) == (first.path, "cached")
    assert len(share.requests) == before


def test_modified_checkpoint_is_an_error_until_fetched_again_with_force(
    share: FakeHub, hub_settings: HubSettings
) -> None:
    path = hub.fetch_checkpoint(FAN20, hub_settings, backoff=BACKOFF).path
    path.write_bytes(b"tampered" + CHECKPOINT[8:])
    with pytest.raises(DownloadError, match="modified since it was fetched") as caught:
        hub.fetch_checkpoint(FAN20, hub_settings, backoff=BACKOFF)
    assert "aegan fetch fan20 --force" in caught.value.hint
    forced = hub.fetch_checkpoint(FAN20, hub_settings, force=True, backoff=BACKOFF)
    assert forced.action == "downloaded" and path.read_bytes() == CHECKPOINT
    assert lockfile.verify_locked(path) is not None


def test_remote_path_picks_another_file_and_downloads_it_once(
    share: FakeHub, hub_settings: HubSettings
) -> None:
    share.share["/extra/ToyCar_epoch40.pth"] = b"epoch40"
    assert hub.fetch_checkpoint(TOYCAR22, hub_settings, backoff=BACKOFF).path.read_bytes() == (
        b"toycar22"
    )
    chosen = hub.fetch_checkpoint(
        TOYCAR22, hub_settings, "extra/ToyCar_epoch40.pth", backoff=BACKOFF
    )
    assert chosen.action == "downloaded" and chosen.path.read_bytes() == b"epoch40"
    again = hub.fetch_checkpoint(
        TOYCAR22, hub_settings, "/extra/ToyCar_epoch40.pth", backoff=BACKOFF
    )
    assert again.action == "cached"


def test_copy_checkpoint_records_it_and_it_is_then_found_offline(tmp_path: Path) -> None:
    src = tmp_path / "ToyCar.pth"
    src.write_bytes(CHECKPOINT)
    copied = hub.copy_checkpoint(src, TOYCAR22)
    assert copied.path == registry.checkpoint_path(TOYCAR22)
    assert copied.action == "copied" and copied.url.startswith("file://")
    unreachable = HubSettings(seafile_url="http://127.0.0.1:9", zenodo_url="http://127.0.0.1:9")
    cached = hub.fetch_checkpoint(TOYCAR22, unreachable, backoff=BACKOFF)
    assert (cached.path, cached.action) == (copied.path, "cached")


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("fan.pth", b"<!DOCTYPE html><html>Seafile login</html>", DataError, "web page"),
        ("fan.zip", b"PK", UsageError, "not a checkpoint file"),
    ],
)
def test_copy_checkpoint_refuses_what_is_not_a_checkpoint(
    tmp_path: Path, name: str, content: bytes, error: type, match: str
) -> None:
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(error, match=match):
        hub.copy_checkpoint(src, FAN22)
    assert not registry.checkpoint_path(FAN22).exists()


# ---------------------------------------------------------------- failures


def test_a_failed_download_names_the_file_and_the_manual_way(
    share: FakeHub, hub_settings: HubSettings
) -> None:
    share.add_fault(match="/seafhttp/", status=404)
    with pytest.raises(DownloadError) as caught:
        hub.fetch_checkpoint(FAN20, hub_settings, backoff=BACKOFF)
    error = caught.value
    assert "not found (HTTP 404)" in error.message
    assert f"{share.url}/d/{SHARE_TOKEN}/files/?p=/dcase20/fan.pth&dl=1" in error.message
    assert f"{share.url}/d/{SHARE_TOKEN}/" in error.hint
    assert "aegan fetch fan20 --from FILE" in error.hint
    assert not registry.checkpoint_path(FAN20).exists()


def test_an_unreachable_share_says_how_to_fetch_by_hand(closed_port_url: str) -> None:
    settings = HubSettings(seafile_url=closed_port_url, timeout=1.0, retries=1)
    with pytest.raises(DownloadError) as caught:
        hub.fetch_checkpoint(FAN22, settings, backoff=BACKOFF)
    assert "refused" in caught.value.message and closed_port_url in caught.value.message
    assert "aegan fetch fan22 --from FILE" in caught.value.hint


def test_a_page_that_is_not_a_folder_listing_is_reported(
    fake_hub: FakeHub, hub_settings: HubSettings
) -> None:
    hub_settings.seafile_token = "moved"
    fake_hub.raw["/api/v2.1/share-links/moved/dirents/"] = b'{"error_msg": "gone"}'
    with pytest.raises(DownloadError, match="did not answer with a Seafile folder listing"):
        hub.list_share(hub_settings, backoff=BACKOFF)


def test_a_rejected_import_leaves_the_cache_and_the_lock_as_they_were(tmp_path):
    from aegan.bundles.registry import checkpoint_path, require_published
    from aegan.hub.lockfile import lock_path
    from aegan.hub.seafile import copy_checkpoint

    model = require_published("fan22")
    good, bad = tmp_path / "good.pth", tmp_path / "bad.pth"
    good.write_bytes(b"good bytes"), bad.write_bytes(b"bad bytes")
    copy_checkpoint(good, model)
    before = checkpoint_path(model).read_bytes(), lock_path().read_bytes()

    def reject(path):
        raise ValueError(f"rejected {path.name}")

    with pytest.raises(ValueError, match="rejected"):
        copy_checkpoint(bad, model, reject)
    assert (checkpoint_path(model).read_bytes(), lock_path().read_bytes()) == before
    assert not [p for p in checkpoint_path(model).parent.iterdir() if p.name.endswith(".part")]


def test_a_refused_import_names_the_given_file_not_a_temporary_one(tmp_path):
    from aegan.bundles.registry import require_published
    from aegan.errors import ModelError
    from aegan.hub.seafile import copy_checkpoint

    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"bad bytes")

    def reject(path):
        raise ModelError(f"{path} is no checkpoint.")

    with pytest.raises(ModelError) as caught:
        copy_checkpoint(bad, require_published("fan22"), reject)
    assert caught.value.message == f"{bad} is no checkpoint." and ".part" not in str(caught.value)
