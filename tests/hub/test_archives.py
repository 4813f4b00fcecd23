"""DCASE zips: refusing unsafe entries, unpacking into the data set tree, knowing what is there."""

from __future__ import annotations

import errno
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from fake_servers import zip_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aegan.errors import DataError, SystemFailure, UsageError
from aegan.hub.archives import (
    Archive,
    archive_complete,
    extract_archive,
    missing_training_folders,
    write_marker,
)

DEV_FAN = Archive(6355122, "dev_fan.zip", "dev", ("train", "test"))
EVAL_TRAIN_FAN = Archive(6462969, "eval_data_fan_train.zip", "eval", ("train",))


def wav_entries(prefix: str, split: str, count: int = 3) -> dict[str, bytes]:
    names = (f"section_00_source_{split}_normal_{i:04d}_a_1.wav" for i in range(count))
    return {f"{prefix}{name}": b"RIFF" + name.encode() for name in names}


def write_zip(path: Path, entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> Path:
    path.write_bytes(zip_bytes(entries, symlinks))
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def dev_fan_zip(tmp_path: Path, prefix: str = "dev_data/fan/") -> Path:
    entries = wav_entries(f"{prefix}train/", "train", 3) | wav_entries(f"{prefix}test/", "test", 2)
    return write_zip(tmp_path / "dev_fan.zip", entries)


# ---------------------------------------------------------------- refusing unsafe entries

segment = st.text(alphabet="abcXYZ019_-. ", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..") and s.strip()
)
relative = st.lists(segment, min_size=1, max_size=4).map("/".join)


@st.composite
def unsafe_names(draw) -> tuple[str, str]:
    """(entry name, reason) of names that would write outside the target folder."""
    head, tail = draw(relative), draw(relative)
    return draw(
        st.sampled_from([
            (f"{head}/../../{tail}", "escapes"),
            (f"../{tail}", "escapes"),
            (f"{head}\\..\\..\\{tail}", "escapes"),
            (f"/{head}/{tail}", "absolute"),
            (f"\\{head}\\{tail}", "absolute"),
            (f"C:/{tail}", "absolute"),
            (f"d:{tail}", "absolute"),
        ])
    )  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(unsafe=unsafe_names())
def test_an_entry_that_leaves_the_target_folder_refuses_the_whole_archive(
    tmp_path_factory: pytest.TempPathFactory, unsafe: tuple[str, str]
) -> None:
    name, reason = unsafe
    tmp = tmp_path_factory.mktemp("unsafe")
    entries = wav_entries("dev_data/fan/train/", "train") | wav_entries(
        "dev_data/fan/test/", "test"
    )
    zip_path = write_zip(tmp / "dev_fan.zip", {**entries, name: b"evil"})
    root = tmp / "root"
    with pytest.raises(DataError) as caught:
        extract_archive(zip_path, root, "fan", DEV_FAN)
    assert repr(name) in caught.value.message and reason in caught.value.message
    assert "Nothing was extracted" in caught.value.message
    assert "download it again" in caught.value.hint
    assert files_under(root) == []  # not even the safe entries
    assert files_under(tmp) == ["dev_fan.zip"]  # and nothing landed beside it


def test_a_symbolic_link_entry_refuses_the_archive(tmp_path: Path) -> None:
    entries = wav_entries("fan/train/", "train") | wav_entries("fan/test/", "test")
    zip_path = write_zip(tmp_path / "dev_fan.zip", entries, symlinks=("fan/train/link.wav",))
    with pytest.raises(DataError, match="symbolic link"):
        extract_archive(zip_path, tmp_path / "root", "fan", DEV_FAN)
    assert files_under(tmp_path / "root") == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(top=relative)
def test_any_safe_top_folder_is_accepted(
    tmp_path_factory: pytest.TempPathFactory, top: str
) -> None:
    """Names with dots that do not climb ('a..b', '...x') are harmless and extract."""
    tmp = tmp_path_factory.mktemp("safe")
    zip_path = dev_fan_zip(tmp, prefix=f"{top}/fan/")
    counts = extract_archive(zip_path, tmp / "root", "fan", DEV_FAN)
    assert counts == {"train": 3, "test": 2}


# ---------------------------------------------------------------- into the data set tree


@pytest.mark.parametrize(
    "prefix", ["dev_data/fan/", "fan/", "", "DCASE2022/dev_data/Fan/", "dev_fan/fan/"]
)
def test_audio_lands_in_the_dcase_layout_whatever_the_top_folders(
    tmp_path: Path, prefix: str
) -> None:
    zip_path = dev_fan_zip(tmp_path, prefix)
    root = tmp_path / "dcase2022"
    counts = extract_archive(zip_path, root, "fan", DEV_FAN)
    assert counts == {"train": 3, "test": 2}
    assert len(list((root / "dev_data/fan/train").glob("*.wav"))) == 3
    assert len(list((root / "dev_data/fan/test").glob("*.wav"))) == 2
    assert sorted(p.name for p in root.iterdir()) == ["dev_data"]  # no staging left behind
    assert zip_path.exists()  # the zip itself is the caller's to keep or delete


def test_only_audio_is_placed_and_mac_metadata_is_ignored(tmp_path: Path) -> None:
    entries = wav_entries("fan/train/", "train", 2) | wav_entries("__MACOSX/fan/train/", "train", 5)
    entries |= {"fan/train/readme.txt": b"notes", "fan/train/x.FLAC": b"fLaC"}
    zip_path = write_zip(tmp_path / "eval.zip", entries)
    counts = extract_archive(zip_path, tmp_path / "root", "fan", EVAL_TRAIN_FAN)
    placed = sorted(p.name for p in (tmp_path / "root/eval_data/fan/train").iterdir())
    assert counts == {"train": 3} and len(placed) == 3 and "x.FLAC" in placed
    assert "readme.txt" not in placed


def test_the_machine_named_in_the_path_decides_between_several_split_folders(
    tmp_path: Path,
) -> None:
    entries = wav_entries("fan/train/", "train", 2) | wav_entries("pump/train/", "train", 4)
    zip_path = write_zip(tmp_path / "both.zip", entries)
    assert extract_archive(zip_path, tmp_path / "root", "fan", EVAL_TRAIN_FAN) == {"train": 2}
    entries = wav_entries("a/train/", "train") | wav_entries("b/train/", "train")
    zip_path = write_zip(tmp_path / "ambiguous.zip", entries)
    with pytest.raises(DataError, match=r"several train/ folder.*top level holds: a, b"):
        extract_archive(zip_path, tmp_path / "root2", "fan", EVAL_TRAIN_FAN)


def test_extracting_again_replaces_the_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    extract_archive(dev_fan_zip(tmp_path), root, "fan", DEV_FAN)
    assert extract_archive(dev_fan_zip(tmp_path), root, "fan", DEV_FAN) == {"train": 3, "test": 2}
    assert len(list((root / "dev_data/fan/train").iterdir())) == 3


def test_progress_counts_every_entry(tmp_path: Path) -> None:
    calls: list[tuple[str, float, float | None]] = []
    extract_archive(dev_fan_zip(tmp_path), tmp_path / "root", "fan", DEV_FAN,
                    progress=lambda task, done, total: calls.append((task, done, total)))  # fmt: skip
    assert [done for _, done, _ in calls] == [1, 2, 3, 4, 5]
    assert {(task, total) for task, _, total in calls} == {("Extracting dev_fan.zip", 5)}


def test_a_file_that_is_not_a_zip_says_to_download_again(tmp_path: Path) -> None:
    bad = tmp_path / "dev_fan.zip"
    bad.write_bytes(b"<html>Too many requests</html>")
    with pytest.raises(DataError) as caught:
        extract_archive(bad, tmp_path / "root", "fan", DEV_FAN)
    assert "not a valid zip" in caught.value.message and "download it again" in caught.value.hint
    assert files_under(tmp_path / "root") == []


def test_an_archive_missing_a_split_leaves_nothing_behind(tmp_path: Path) -> None:
    zip_path = write_zip(tmp_path / "dev_fan.zip", wav_entries("fan/train/", "train"))
    root = tmp_path / "root"
    with pytest.raises(DataError, match="no test/ folder"):
        extract_archive(zip_path, root, "fan", DEV_FAN)
    assert not list(root.rglob("*.wav"))


# ---------------------------------------------------------------- what is already there


def test_a_marker_makes_an_extracted_archive_complete_until_a_file_goes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert not archive_complete(root, DEV_FAN, "fan")
    counts = extract_archive(dev_fan_zip(tmp_path), root, "fan", DEV_FAN)
    assert not archive_complete(root, DEV_FAN, "fan")  # extracted, but not yet marked
    write_marker(root, DEV_FAN, "0123abcd", counts)
    assert archive_complete(root, DEV_FAN, "fan")
    assert not archive_complete(root, EVAL_TRAIN_FAN, "fan")  # markers are per archive
    (root / "dev_data/fan/test/extra.wav").write_bytes(b"")
    assert archive_complete(root, DEV_FAN, "fan")  # more files are fine
    for path in list((root / "dev_data/fan/test").glob("section_*.wav"))[:2]:
        path.unlink()
    assert not archive_complete(root, DEV_FAN, "fan")


def test_the_marker_records_the_archive_and_is_hidden(tmp_path: Path) -> None:
    write_marker(tmp_path, DEV_FAN, "0123abcd", {"train": 3, "test": 2})
    (marker,) = tmp_path.rglob("*.json")
    assert marker.relative_to(tmp_path).parts[0].startswith(".")  # not a data folder
    data = json.loads(marker.read_text())
    assert data["archive"] == "dev_fan.zip" and data["record"] == 6355122
    assert data["md5"] == "0123abcd" and data["files"] == {"train": 3, "test": 2}
    assert datetime.fromisoformat(data["extracted_at"]).tzinfo is not None


@pytest.mark.parametrize(
    "content",
    [
        "{not json", "[]", '{"other": {}}', "", '{"files": 3}', '{"files": {"train": "many"}}',
    ],
)  # fmt: skip
def test_a_damaged_marker_means_extract_again(tmp_path: Path, content: str) -> None:
    root = tmp_path / "root"
    counts = extract_archive(dev_fan_zip(tmp_path), root, "fan", DEV_FAN)
    write_marker(root, DEV_FAN, None, counts)
    (marker,) = root.rglob("*.json")
    marker.write_text(content)
    assert not archive_complete(root, DEV_FAN, "fan")


def test_missing_training_folders_follow_the_train_set(tmp_path: Path) -> None:
    assert missing_training_folders(tmp_path, 2022, "fan", "deval") == [
        tmp_path / "dev_data/fan/train", tmp_path / "eval_data/fan/train",
    ]  # fmt: skip
    train = tmp_path / "dev_data/Fan/train"  # another letter case on disk is found
    train.mkdir(parents=True)
    assert missing_training_folders(tmp_path, 2022, "fan", "dev") == [train]  # empty: missing
    (train / "section_00_source_train_normal_0000_a_1.wav").write_bytes(b"")
    assert missing_training_folders(tmp_path, 2022, "fan", "dev") == []
    assert missing_training_folders(tmp_path, 2022, "fan", "deval") == [
        tmp_path / "eval_data/fan/train"
    ]
    with pytest.raises(UsageError, match="train_set"):
        missing_training_folders(tmp_path, 2022, "fan", "test")


# ---------------------------------------------------------------- size limits


def test_a_zip_bomb_is_refused_naming_the_archive_the_numbers_and_the_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "dev_fan.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dev_data/fan/test/section_00_source_test_normal_0000_a_1.wav", b"RIFF")
        archive.writestr(
            "dev_data/fan/train/section_00_source_train_normal_0000_a_1.wav", bytes(32 << 20)
        )
    root = tmp_path / "root"
    with pytest.raises(DataError) as caught:
        extract_archive(bomb, root, "fan", DEV_FAN)
    message = caught.value.message
    assert "Refusing to extract dev_fan.zip" in message and "zip bomb" in message
    assert "32.0 MiB" in message and "the limit is 20" in message
    assert files_under(root) == []


@pytest.mark.parametrize(
    ("limit", "value", "expected"),
    [
        ("MAX_ENTRIES", 3, "it holds 5 entries (the limit is 3)"),
        ("MAX_TOTAL_BYTES", 10, "(the limit is 10 bytes)"),
    ],
)
def test_too_many_entries_or_bytes_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, value: int, expected: str
) -> None:
    from aegan.hub import archives

    monkeypatch.setattr(archives, limit, value)
    with pytest.raises(DataError, match=re.escape(expected)):
        extract_archive(dev_fan_zip(tmp_path), tmp_path / "root", "fan", DEV_FAN)
    assert files_under(tmp_path / "root") == []


def test_too_little_free_disk_space_is_refused_before_extracting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from aegan.hub import archives

    usage = shutil.disk_usage(tmp_path)._replace(free=1000)
    monkeypatch.setattr(archives.shutil, "disk_usage", lambda _: usage)
    with pytest.raises(DataError) as caught:
        extract_archive(dev_fan_zip(tmp_path), tmp_path / "root", "fan", DEV_FAN)
    assert "only 1000 bytes are free" in caught.value.message and "root" in caught.value.message
    assert "--data-dir" in caught.value.hint
    assert files_under(tmp_path / "root") == []


def test_a_full_disk_during_extraction_names_the_archive_and_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = wav_entries("fan/train/", "train") | wav_entries("fan/test/", "test")
    zip_path = write_zip(tmp_path / "dev_fan.zip", entries)
    root = tmp_path / "root"

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")  # a write names no path

    monkeypatch.setattr(zipfile.ZipFile, "extract", full)
    with pytest.raises(SystemFailure) as caught:
        extract_archive(zip_path, root, "fan", DEV_FAN)
    assert caught.value.message == (
        f"Cannot extract dev_fan.zip into {root}: No space left on device."
    )
    assert caught.value.hint is not None and f"drive of {root}" in caught.value.hint
    assert files_under(root) == [] and not list(root.glob(".*"))  # no staging left
