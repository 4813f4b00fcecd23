"""Downloads against a local fake of Seafile, Zenodo and GitHub raw (tests/fake_servers.py).

Every test runs with its own AEGAN_HOME (tests/conftest.py) and only talks to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import stat
import zipfile
from pathlib import Path

import pytest
from fake_servers import SHARE_TOKEN, FakeHub, ZenodoRecord

from aegan import hub, paths
from aegan.config import HubSettings
from aegan.errors import DataError, DownloadError, UsageError

pytest_plugins = ["fake_servers"]  # the fake_hub and closed_port_url fixtures

BACKOFF = 0.001
CHECKPOINT = bytes(range(256)) * 400  # 100 KiB, several read chunks


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Talk to the fake server directly even where the user has a proxy configured."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def remote(path: str, size: int = 10) -> hub.RemoteFile:
    return hub.RemoteFile(path=path, size=size, mtime="")


@pytest.fixture
def settings(fake_hub: FakeHub) -> HubSettings:
    return HubSettings(
        seafile_url=fake_hub.url,
        seafile_token=SHARE_TOKEN,
        zenodo_url=fake_hub.url,
        timeout=2.0,
        retries=2,
    )


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


def make_zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def clips(prefix: str, split: str, count: int = 3) -> dict[str, bytes]:
    names = (f"section_00_source_{split}_normal_{i:04d}_a_1.wav" for i in range(count))
    return {f"{prefix}{name}": b"RIFF" + name.encode() for name in names}


# ---------------------------------------------------------------- share listing and matching


def test_list_share_walks_every_folder(share: FakeHub, settings: HubSettings) -> None:
    files = hub.list_share(settings, backoff=BACKOFF)
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
    assert hub.find_checkpoint(files, 20, "FAN").path == "/DCASE2020/fan_best.pth"
    assert hub.find_checkpoint(files, 2022, "fan").path == "/dcase22/fan.pt"
    assert hub.find_checkpoint(files, "22", "toycar").path == "/2022/ToyCar.pth.tar"


def test_find_checkpoint_does_not_confuse_similar_names() -> None:
    files = [remote("/dcase20/ToyConveyor.pth"), remote("/dcase20/ToyCar.pth")]
    assert hub.find_checkpoint(files, 20, "ToyCar").path == "/dcase20/ToyCar.pth"


def test_ambiguous_checkpoint_lists_candidates_and_suggests_remote_path() -> None:
    files = [remote("/dcase22/fan.pth"), remote("/dcase22/fan_epoch50.pth")]
    with pytest.raises(UsageError) as caught:
        hub.find_checkpoint(files, 22, "fan")
    assert "/dcase22/fan.pth" in caught.value.message
    assert "/dcase22/fan_epoch50.pth" in caught.value.message
    assert "--remote-path" in caught.value.hint


def test_missing_checkpoint_lists_what_the_share_holds() -> None:
    files = [remote("/dcase22/fan.pth"), remote("/dcase22/slider.pth")]
    with pytest.raises(DownloadError) as caught:
        hub.find_checkpoint(files, 20, "fan")
    assert "fan (DCASE 2020)" in caught.value.message
    assert "/dcase22/fan.pth" in caught.value.hint and "/dcase22/slider.pth" in caught.value.hint


def test_remote_path_picks_the_file_explicitly() -> None:
    files = [remote("/dcase22/fan.pth"), remote("/misc/model_a.pth"), remote("/misc/..")]
    assert hub.find_checkpoint(files, 22, "fan", "misc/MODEL_A.pth").path == "/misc/model_a.pth"
    with pytest.raises(UsageError, match=r"no file /misc/nope\.pth"):
        hub.find_checkpoint(files, 22, "fan", "/misc/nope.pth")
    with pytest.raises(UsageError, match="not a checkpoint file"):
        hub.find_checkpoint(files, 22, "fan", "/misc/..")


# ---------------------------------------------------------------- checkpoint download


def test_fetch_checkpoint_downloads_into_the_cache_and_locks_it(
    share: FakeHub, settings: HubSettings
) -> None:
    seen: list[tuple[str, float, float | None]] = []
    path = hub.fetch_checkpoint(
        20, "fan", settings, progress=lambda *a: seen.append(a), backoff=BACKOFF
    )
    assert path == paths.checkpoints_dir() / "dcase2020" / "fan.pth"
    assert path.read_bytes() == CHECKPOINT
    assert not hub.part_path(path).exists()
    entry = json.loads(hub.lock_path().read_text())["checkpoints/dcase2020/fan.pth"]
    assert entry["sha256"] == hashlib.sha256(CHECKPOINT).hexdigest()
    assert entry["size"] == len(CHECKPOINT)
    assert entry["url"].endswith("/files/?p=/dcase20/fan.pth&dl=1")
    assert seen[-1][1:] == (len(CHECKPOINT), len(CHECKPOINT))


def test_second_fetch_of_a_locked_checkpoint_uses_no_network(
    share: FakeHub, settings: HubSettings
) -> None:
    first = hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    before = len(share.requests)
    assert hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF) == first
    assert len(share.requests) == before


def test_modified_checkpoint_is_caught_and_fetched_again(
    share: FakeHub, settings: HubSettings
) -> None:
    path = hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    path.write_bytes(b"tampered" + CHECKPOINT[8:])
    with pytest.raises(DownloadError, match="modified since it was fetched") as caught:
        hub.verify_locked(path)
    assert "aegan fetch" in caught.value.hint
    hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    assert path.read_bytes() == CHECKPOINT
    assert hub.verify_locked(path) is not None


def test_resume_after_a_cut_connection_uses_range_and_is_byte_exact(
    share: FakeHub, settings: HubSettings
) -> None:
    share.add_fault(match="/seafhttp/", cut_after=30000, times=1)
    path = hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    assert path.read_bytes() == CHECKPOINT
    ranges = [r.range for r in share.requests_to("/seafhttp/")]
    assert ranges == [None, "bytes=30000-"]


def test_server_ignoring_range_restarts_the_file_cleanly(
    share: FakeHub, settings: HubSettings
) -> None:
    share.add_fault(match="/seafhttp/", cut_after=30000, times=1)
    share.add_fault(match="/seafhttp/", ignore_range=True)
    path = hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    assert path.read_bytes() == CHECKPOINT
    assert share.requests_to("/seafhttp/")[1].range == "bytes=30000-"


def test_broken_transfer_keeps_a_part_file_that_the_next_run_resumes(
    share: FakeHub, settings: HubSettings
) -> None:
    share.add_fault(match="/seafhttp/", cut_after=20000, times=3)
    with pytest.raises(DownloadError) as caught:
        hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    dest = paths.checkpoints_dir() / "dcase2020" / "fan.pth"
    assert "broke off" in caught.value.message and "resumes" in caught.value.message
    assert not dest.exists()
    assert hub.part_path(dest).stat().st_size == 60000
    assert hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF).read_bytes() == CHECKPOINT
    assert share.requests_to("/seafhttp/")[-1].range == "bytes=60000-"


def test_import_checkpoint_copies_records_and_is_then_found_offline(
    tmp_path: Path, settings: HubSettings
) -> None:
    src = tmp_path / "ToyCar.pth"
    src.write_bytes(CHECKPOINT)
    dest = hub.import_checkpoint(src, 22, "toycar")
    assert dest == paths.checkpoints_dir() / "dcase2022" / "ToyCar.pth"
    assert hub.verify_locked(dest).url.startswith("file://")
    unreachable = HubSettings(seafile_url="http://127.0.0.1:9", zenodo_url="http://127.0.0.1:9")
    assert hub.fetch_checkpoint(22, "ToyCar", unreachable, backoff=BACKOFF) == dest


def test_import_checkpoint_refuses_a_saved_web_page(tmp_path: Path) -> None:
    src = tmp_path / "fan.pth"
    src.write_text("<!DOCTYPE html><html>Seafile login</html>")
    with pytest.raises(DataError, match="web page"):
        hub.import_checkpoint(src, 22, "fan")


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 404}, "not found (HTTP 404)"),
        ({"status": 500}, "HTTP 500"),
        ({"delay": 1.5}, "no answer within 0.5 s (timeout) after 2 attempts"),
    ],
)
def test_download_failures_name_the_url_and_the_manual_way(
    share: FakeHub, settings: HubSettings, fault: dict, expected: str
) -> None:
    settings.timeout, settings.retries = 0.5, 1
    share.add_fault(match="/seafhttp/", **fault)
    with pytest.raises(DownloadError) as caught:
        hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    error = caught.value
    assert expected in error.message
    assert f"{share.url}/d/{SHARE_TOKEN}/files/?p=/dcase20/fan.pth&dl=1" in error.message
    assert f"{share.url}/d/{SHARE_TOKEN}/" in error.hint
    assert "aegan fetch fan20 --from FILE" in error.hint
    assert not (paths.checkpoints_dir() / "dcase2020" / "fan.pth").exists()


def test_not_found_is_not_retried_but_server_errors_are(
    share: FakeHub, settings: HubSettings
) -> None:
    share.add_fault(match="/seafhttp/", status=404)
    with pytest.raises(DownloadError):
        hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    assert len(share.requests_to("/seafhttp/")) == 1
    share.faults.clear()
    share.add_fault(match="/seafhttp/", status=503, times=2)
    hub.fetch_checkpoint(20, "fan", settings, backoff=BACKOFF)
    assert len(share.requests_to("/seafhttp/")) == 1 + 3


def test_offline_connection_refused(closed_port_url: str) -> None:
    settings = HubSettings(seafile_url=closed_port_url, timeout=1.0, retries=1)
    with pytest.raises(DownloadError) as caught:
        hub.fetch_checkpoint(22, "fan", settings, backoff=BACKOFF)
    assert "refused" in caught.value.message and closed_port_url in caught.value.message
    assert "aegan fetch fan22 --from FILE" in caught.value.hint


def test_offline_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    settings = HubSettings(zenodo_url="http://zenodo.invalid", retries=0)
    with pytest.raises(DownloadError) as caught:
        hub.zenodo_files(3678171, settings, backoff=BACKOFF)
    assert "DNS" in caught.value.message and "zenodo.invalid" in caught.value.message
    assert "http://zenodo.invalid/records/3678171" in caught.value.hint


# ---------------------------------------------------------------- Zenodo


@pytest.mark.parametrize("links", ["self", "content", "none"])
def test_zenodo_files_reads_each_api_shape(
    fake_hub: FakeHub, settings: HubSettings, links: str, tmp_path: Path
) -> None:
    fake_hub.zenodo[42] = ZenodoRecord({"a b.zip": b"payload"}, links=links)
    (remote_file,) = hub.zenodo_files(42, settings, backoff=BACKOFF)
    assert (remote_file.key, remote_file.size) == ("a b.zip", 7)
    assert remote_file.md5 == hashlib.md5(b"payload").hexdigest()
    policy = hub.DownloadPolicy(timeout=2.0, retries=0, backoff=BACKOFF)
    dest = hub.download(remote_file.url, tmp_path / "x.zip", policy=policy, hint="")
    assert dest.read_bytes() == b"payload"


def test_md5_mismatch_is_refused_and_the_file_removed(
    fake_hub: FakeHub, settings: HubSettings, tmp_path: Path
) -> None:
    fake_hub.zenodo[6355122] = ZenodoRecord(
        {"dev_fan.zip": make_zip(clips("fan/train/", "train"))},
        md5_override={"dev_fan.zip": "0" * 32},
    )
    with pytest.raises(DownloadError) as caught:
        hub.fetch_dataset(22, "fan", "dev", tmp_path, settings, backoff=BACKOFF)
    assert "MD5" in caught.value.message and "removed" in caught.value.message
    assert (
        "dev_fan.zip" in caught.value.hint
        and f"{fake_hub.url}/records/6355122" in caught.value.hint
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_dcase_archives_map_year_machine_and_split() -> None:
    archives = hub.dcase_archives(20, "toycar", "eval")
    assert [(a.record, a.name, a.subset, a.splits) for a in archives] == [
        (3727685, "eval_data_train_ToyCar.zip", "eval", ("train",)),
        (3841772, "eval_data_test_ToyCar.zip", "eval", ("test",)),
    ]
    assert [a.name for a in hub.dcase_archives(22, "fan", "all")] == [
        "dev_fan.zip",
        "eval_data_fan_train.zip",
        "eval_data_fan_test.zip",
    ]
    with pytest.raises(UsageError, match="dev, eval, all"):
        hub.dcase_archives(22, "fan", "train")


# ---------------------------------------------------------------- data sets


def serve_2022_fan(fake_hub: FakeHub) -> None:
    """Three archives with different top folders, plus the evaluator's ground truth."""
    fake_hub.zenodo[6355122] = ZenodoRecord(
        {"dev_fan.zip": make_zip(clips("fan/train/", "train") | clips("fan/test/", "test", 2))}
    )
    fake_hub.zenodo[6462969] = ZenodoRecord(
        {"eval_data_fan_train.zip": make_zip(clips("eval_data/fan/train/", "train", 4))},
        links="content",
    )
    fake_hub.zenodo[6586456] = ZenodoRecord(
        {"eval_data_fan_test.zip": make_zip(clips("dev_data/fan/test/", "test", 5))}
    )
    for relative in hub.ground_truth_files(22, "fan"):
        fake_hub.raw[f"/Kota-Dohi/dcase2022_evaluator/main/{relative}"] = b"section_03_0000.wav,1\n"


def wav_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.wav"))


def test_fetch_dataset_places_every_layout_into_the_dcase_tree(
    fake_hub: FakeHub, settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    root = tmp_path / "dcase2022"
    summary = hub.fetch_dataset(
        22, "fan", "all", root, settings, raw_base=fake_hub.url, backoff=BACKOFF
    )
    assert len(wav_names(root / "dev_data/fan/train")) == 3
    assert len(wav_names(root / "dev_data/fan/test")) == 2
    assert len(wav_names(root / "eval_data/fan/train")) == 4
    assert len(wav_names(root / "eval_data/fan/test")) == 5
    assert summary.downloaded[:3] == [
        "dev_fan.zip",
        "eval_data_fan_train.zip",
        "eval_data_fan_test.zip",
    ]
    assert summary.skipped == []
    assert summary.ground_truth_error is None
    truth = root / "ground_truth/ground_truth_domain/ground_truth_fan_section_05_test.csv"
    assert truth in summary.ground_truth and truth.read_bytes() == b"section_03_0000.wav,1\n"
    assert len(summary.ground_truth) == 6
    assert not list(root.glob("*.zip")) and not list(root.glob("*.part"))
    assert not list(root.glob(".*.extracting"))


def test_second_dataset_fetch_does_nothing(
    fake_hub: FakeHub, settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    hub.fetch_dataset(22, "fan", "all", tmp_path, settings, raw_base=fake_hub.url, backoff=BACKOFF)
    before = len(fake_hub.requests)
    again = hub.fetch_dataset(
        22, "fan", "all", tmp_path, settings, raw_base=fake_hub.url, backoff=BACKOFF
    )
    assert again.downloaded == []
    assert again.skipped[:3] == ["dev_fan.zip", "eval_data_fan_train.zip", "eval_data_fan_test.zip"]
    assert len(fake_hub.requests) == before


def test_fetch_dataset_keeps_the_zip_when_asked(
    fake_hub: FakeHub, settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    hub.fetch_dataset(22, "fan", "dev", tmp_path, settings, keep_zip=True, backoff=BACKOFF)
    assert hub.verify_locked(tmp_path / "dev_fan.zip") is not None


def test_ground_truth_unreachable_does_not_fail_the_data(
    fake_hub: FakeHub, settings: HubSettings, closed_port_url: str, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    settings.retries = 0
    summary = hub.fetch_dataset(
        22, "fan", "eval", tmp_path, settings, raw_base=closed_port_url, backoff=BACKOFF
    )
    assert len(wav_names(tmp_path / "eval_data/fan/test")) == 5
    assert "refused" in summary.ground_truth_error
    assert "github.com/Kota-Dohi/dcase2022_evaluator" in summary.ground_truth_error


def test_ground_truth_2020_comes_from_its_zenodo_record(
    fake_hub: FakeHub, settings: HubSettings, tmp_path: Path
) -> None:
    fake_hub.zenodo[3951620] = ZenodoRecord({"eval_data_list.csv": b"fan\nid_01_00000000.wav,,0\n"})
    summary = hub.fetch_ground_truth(20, "fan", tmp_path, settings, backoff=BACKOFF)
    assert summary.ground_truth == [tmp_path / "ground_truth" / "eval_data_list.csv"]
    assert summary.ground_truth[0].read_bytes().startswith(b"fan\n")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("fan/train/../../../escaped.wav", "escapes"),
        ("/tmp/absolute.wav", "absolute"),
        ("C:/windows/absolute.wav", "absolute"),
    ],
)
def test_unsafe_archive_is_refused_and_nothing_extracted(
    fake_hub: FakeHub, settings: HubSettings, tmp_path: Path, entry: str, reason: str
) -> None:
    entries = clips("fan/train/", "train") | clips("fan/test/", "test") | {entry: b"evil"}
    fake_hub.zenodo[6355122] = ZenodoRecord({"dev_fan.zip": make_zip(entries)})
    root = tmp_path / "root"
    with pytest.raises(DataError) as caught:
        hub.fetch_dataset(22, "fan", "dev", root, settings, backoff=BACKOFF)
    assert repr(entry) in caught.value.message and reason in caught.value.message
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == []
    assert not (tmp_path / "escaped.wav").exists()


def test_archive_with_a_symlink_is_refused(tmp_path: Path) -> None:
    zip_path = tmp_path / "dev_fan.zip"
    zip_path.write_bytes(make_zip(clips("fan/train/", "train"), symlinks=("fan/train/x.wav",)))
    archive = hub.Archive(6355122, "dev_fan.zip", "dev", ("train",))
    with pytest.raises(DataError, match="symbolic link"):
        hub.extract_archive(zip_path, tmp_path / "root", "fan", archive)
    assert not (tmp_path / "root" / "dev_data").exists()


def test_archive_without_the_expected_split_is_reported(tmp_path: Path) -> None:
    zip_path = tmp_path / "dev_fan.zip"
    zip_path.write_bytes(make_zip(clips("fan/train/", "train")))
    archive = hub.Archive(6355122, "dev_fan.zip", "dev", ("train", "test"))
    with pytest.raises(DataError, match=r"no test/ folder.*top level holds: fan"):
        hub.extract_archive(zip_path, tmp_path, "fan", archive)
