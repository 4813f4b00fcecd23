"""DCASE data from Zenodo and the eval ground truth, against the local fake server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fake_servers import EVALUATOR_2022_PATH, FakeHub, ZenodoRecord, zip_bytes

from aegan.config.settings import HubSettings
from aegan.errors import DataError, DownloadError, UsageError
from aegan.hub import archives, download, lockfile
from aegan.hub import zenodo as datasets

pytest_plugins = ["fake_servers"]  # the fake_hub, hub_settings and closed_port_url fixtures

BACKOFF = 0.001


def clips(prefix: str, split: str, count: int = 3) -> dict[str, bytes]:
    names = (f"section_00_source_{split}_normal_{i:04d}_a_1.wav" for i in range(count))
    return {f"{prefix}{name}": b"RIFF" + name.encode() for name in names}


# ---------------------------------------------------------------- Zenodo


@pytest.mark.parametrize("links", ["self", "content", "none"])
def test_zenodo_files_reads_each_api_shape(
    fake_hub: FakeHub, hub_settings: HubSettings, links: str, tmp_path: Path
) -> None:
    fake_hub.zenodo[42] = ZenodoRecord({"a b.zip": b"payload"}, links=links)
    (remote_file,) = datasets.zenodo_files(42, hub_settings, backoff=BACKOFF)
    assert (remote_file.key, remote_file.size) == ("a b.zip", 7)
    assert remote_file.md5 == hashlib.md5(b"payload").hexdigest()
    policy = download.DownloadPolicy(timeout=2.0, retries=0, backoff=BACKOFF)
    dest = download.download(remote_file.url, tmp_path / "x.zip", policy=policy, hint="")
    assert dest.read_bytes() == b"payload"


def test_md5_mismatch_is_refused_and_the_file_removed(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    fake_hub.zenodo[6355122] = ZenodoRecord(
        {"dev_fan.zip": zip_bytes(clips("fan/train/", "train"))},
        md5_override={"dev_fan.zip": "0" * 32},
    )
    with pytest.raises(DownloadError) as caught:
        datasets.fetch_dataset(2022, "fan", "dev", tmp_path, hub_settings, backoff=BACKOFF)
    assert "MD5" in caught.value.message and "removed" in caught.value.message
    assert (
        "dev_fan.zip" in caught.value.hint
        and f"{fake_hub.url}/records/6355122" in caught.value.hint
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_dcase_archives_map_year_machine_and_split() -> None:
    found = archives.dcase_archives(2020, "ToyCar", "eval")
    assert [(a.record, a.name, a.subset, a.splits) for a in found] == [
        (3727685, "eval_data_train_ToyCar.zip", "eval", ("train",)),
        (3841772, "eval_data_test_ToyCar.zip", "eval", ("test",)),
    ]
    assert [a.name for a in archives.dcase_archives(2022, "fan", "all")] == [
        "dev_fan.zip",
        "eval_data_fan_train.zip",
        "eval_data_fan_test.zip",
    ]
    with pytest.raises(UsageError, match="dev, eval, all"):
        archives.dcase_archives(2022, "fan", "train")


# ---------------------------------------------------------------- data sets


def serve_2022_fan(fake_hub: FakeHub) -> None:
    """Three archives with different top folders, plus the evaluator's ground truth."""
    fake_hub.zenodo[6355122] = ZenodoRecord(
        {"dev_fan.zip": zip_bytes(clips("fan/train/", "train") | clips("fan/test/", "test", 2))}
    )
    fake_hub.zenodo[6462969] = ZenodoRecord(
        {"eval_data_fan_train.zip": zip_bytes(clips("eval_data/fan/train/", "train", 4))},
        links="content",
    )
    fake_hub.zenodo[6586456] = ZenodoRecord(
        {"eval_data_fan_test.zip": zip_bytes(clips("dev_data/fan/test/", "test", 5))}
    )
    for relative in datasets.ground_truth_sources(2022, "fan", HubSettings()):
        fake_hub.raw[f"{EVALUATOR_2022_PATH}/{relative}"] = b"section_03_0000.wav,1\n"


def wav_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.wav"))


def test_fetch_dataset_places_every_layout_into_the_dcase_tree(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    root = tmp_path / "dcase2022"
    summary = datasets.fetch_dataset(2022, "fan", "all", root, hub_settings, backoff=BACKOFF)
    assert len(wav_names(root / "dev_data/fan/train")) == 3
    assert len(wav_names(root / "dev_data/fan/test")) == 2
    assert len(wav_names(root / "eval_data/fan/train")) == 4
    assert len(wav_names(root / "eval_data/fan/test")) == 5
    assert summary.downloaded == [
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
    assert not list(root.glob(".*.part")) and not list(root.glob(".*.lock"))


def test_second_dataset_fetch_does_nothing(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    datasets.fetch_dataset(2022, "fan", "all", tmp_path, hub_settings, backoff=BACKOFF)
    before = len(fake_hub.requests)
    again = datasets.fetch_dataset(2022, "fan", "all", tmp_path, hub_settings, backoff=BACKOFF)
    assert again.downloaded == []
    assert again.skipped == ["dev_fan.zip", "eval_data_fan_train.zip", "eval_data_fan_test.zip"]
    assert len(fake_hub.requests) == before


def test_fetch_dataset_keeps_the_zip_when_asked(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    datasets.fetch_dataset(
        2022, "fan", "dev", tmp_path, hub_settings, keep_zip=True, backoff=BACKOFF
    )
    assert lockfile.verify_locked(tmp_path / "dev_fan.zip") is not None


def test_ground_truth_unreachable_does_not_fail_the_data(
    fake_hub: FakeHub,
    hub_settings: HubSettings,
    closed_port_url: str,
    tmp_path: Path,
) -> None:
    serve_2022_fan(fake_hub)
    hub_settings.retries = 0
    hub_settings.github_raw_url = closed_port_url
    summary = datasets.fetch_dataset(2022, "fan", "eval", tmp_path, hub_settings, backoff=BACKOFF)
    assert len(wav_names(tmp_path / "eval_data/fan/test")) == 5
    assert "refused" in summary.ground_truth_error
    assert "github.com/Kota-Dohi/dcase2022_evaluator" in summary.ground_truth_error


def test_ground_truth_2020_comes_from_its_zenodo_record(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    fake_hub.zenodo[3951620] = ZenodoRecord({"eval_data_list.csv": b"fan\nid_01_00000000.wav,,0\n"})
    summary = datasets.fetch_ground_truth(2020, "fan", tmp_path, hub_settings, backoff=BACKOFF)
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
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path, entry: str, reason: str
) -> None:
    entries = clips("fan/train/", "train") | clips("fan/test/", "test") | {entry: b"evil"}
    fake_hub.zenodo[6355122] = ZenodoRecord({"dev_fan.zip": zip_bytes(entries)})
    root = tmp_path / "root"
    with pytest.raises(DataError) as caught:
        datasets.fetch_dataset(2022, "fan", "dev", root, hub_settings, backoff=BACKOFF)
    assert repr(entry) in caught.value.message and reason in caught.value.message
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == []
    assert not (tmp_path / "escaped.wav").exists()


def test_archive_with_a_symlink_is_refused(tmp_path: Path) -> None:
    zip_path = tmp_path / "dev_fan.zip"
    zip_path.write_bytes(zip_bytes(clips("fan/train/", "train"), symlinks=("fan/train/x.wav",)))
    archive = archives.Archive(6355122, "dev_fan.zip", "dev", ("train",))
    with pytest.raises(DataError, match="symbolic link"):
        archives.extract_archive(zip_path, tmp_path / "root", "fan", archive)
    assert not (tmp_path / "root" / "dev_data").exists()


def test_archive_without_the_expected_split_is_reported(tmp_path: Path) -> None:
    zip_path = tmp_path / "dev_fan.zip"
    zip_path.write_bytes(zip_bytes(clips("fan/train/", "train")))
    archive = archives.Archive(6355122, "dev_fan.zip", "dev", ("train", "test"))
    with pytest.raises(DataError, match=r"no test/ folder.*top level holds: fan"):
        archives.extract_archive(zip_path, tmp_path, "fan", archive)


def test_missing_training_folders_follow_the_train_set(tmp_path: Path) -> None:
    (tmp_path / "dev_data/Fan/train").mkdir(parents=True)
    (tmp_path / "dev_data/Fan/train/section_00_source_train_normal_0000_a_1.wav").write_bytes(b"")
    assert archives.missing_training_folders(tmp_path, 2022, "fan", "dev") == []
    assert archives.missing_training_folders(tmp_path, 2022, "fan", "deval") == [
        tmp_path / "eval_data/fan/train"
    ]


def test_an_archive_whose_files_went_missing_is_fetched_again(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    serve_2022_fan(fake_hub)
    datasets.fetch_dataset(2022, "fan", "dev", tmp_path, hub_settings, backoff=BACKOFF)
    next((tmp_path / "dev_data/fan/test").glob("*.wav")).unlink()
    again = datasets.fetch_dataset(2022, "fan", "dev", tmp_path, hub_settings, backoff=BACKOFF)
    assert again.downloaded == ["dev_fan.zip"]
    assert len(wav_names(tmp_path / "dev_data/fan/test")) == 2
