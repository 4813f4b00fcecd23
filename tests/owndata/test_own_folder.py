"""Own data folders: any names, nested folders, labels from the folder, clear errors."""

from pathlib import Path

import pytest

from aegan.errors import DataError
from aegan.owndata.folder import OWN_SUBSET, OwnData, relative_name
from tests.conftest import write_tone


def test_recordings_of_any_name_become_clips_labelled_by_their_folder(tmp_path):
    for rel in ("train/line3_2026-11-02_0815.wav", "train/night/mic B 2.flac",
                "train/.hidden/x.wav", "train/._line3.wav",
                "test/normal/a.wav", "test/anomaly/a.wav", "test/anomaly/b/c.WAV"):  # fmt: skip
        write_tone(tmp_path / rel, seconds=0.2, sample_rate=8000)
    (tmp_path / "train" / "notes.txt").write_text("not audio")
    data = OwnData.at(tmp_path)
    train = data.train_clips(2022, "ToyTrain")
    assert [relative_name(c) for c in train] == [
        "train/line3_2026-11-02_0815.wav", "train/night/mic B 2.flac",
    ]  # fmt: skip
    assert {(c.subset, c.split, c.group, c.label, c.domain) for c in train} == {
        (OWN_SUBSET, "train", "00", 0, "source")
    }
    test = data.test_clips(2022, "ToyTrain")
    assert [(relative_name(c), c.label) for c in test] == [
        ("test/normal/a.wav", 0), ("test/anomaly/a.wav", 1), ("test/anomaly/b/c.WAV", 1),
    ]  # fmt: skip
    assert len({c.index for c in test}) == 3  # unique, though two files share a name
    assert data.test_clips(2020, "fan")[0].domain is None  # 2020 has no domains


def test_each_folder_of_a_data_set_keeps_its_own_feature_cache(tmp_path):
    (tmp_path / "a" / "train").mkdir(parents=True)
    (tmp_path / "b" / "a" / "train").mkdir(parents=True)
    first, second = OwnData.at(tmp_path / "a"), OwnData.at(tmp_path / "b" / "a")
    assert first.name == second.name and first.set_name("train") != second.set_name("train")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ((), "does not exist"),
        (("test/normal",), "has no train/ folder"),
        (("train",), "train holds no audio files"),
    ],
)
def test_missing_or_empty_folders_are_clear_errors(tmp_path, layout, message):
    root = tmp_path / "data"
    for folder in layout:
        (root / folder).mkdir(parents=True)
    with pytest.raises(DataError, match=message):
        OwnData.at(root).train_clips(2022, "ToyTrain")


def test_a_test_set_needs_both_normal_and_anomalous_recordings(tmp_path):
    write_tone(tmp_path / "train" / "x.wav", seconds=0.2)
    data = OwnData.at(tmp_path)
    with pytest.raises(DataError, match="no test/ folder"):
        data.test_clips(2022, "ToyTrain")
    write_tone(tmp_path / "test" / "normal" / "y.wav", seconds=0.2)
    with pytest.raises(DataError, match=r"test/anomaly is missing"):
        data.test_clips(2022, "ToyTrain")
    assert Path(data.folder).is_absolute()
