from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegan.dcase import clips as dcase
from aegan.dcase.facts import MachineType, attribute_keys, parse_year
from aegan.errors import DataError, UsageError
from tests.conftest import write_tone


@pytest.mark.parametrize(
    ("name", "split", "group", "label"),
    [
        ("normal_id_00_00000000.wav", "train", "00", 0),
        ("normal_id_02_00000012.wav", "test", "02", 0),
        ("anomaly_id_02_00000003.wav", "test", "02", 1),
        ("id_05_00000252.wav", "test", "05", None),
    ],
)
def test_parses_2020_names(name, split, group, label):
    clip = dcase.parse_clip_name(Path(name), 2020, "fan", "dev", split)
    assert (clip.group, clip.label, clip.domain) == (group, label, None)


def test_parses_2022_names_with_and_without_attributes():
    clip = dcase.parse_clip_name(
        Path("section_00_source_test_anomaly_0029_vel_6_loc_A.wav"), 2022, "bearing", "dev", "test"
    )
    assert (clip.group, clip.domain, clip.label, clip.index) == ("00", "source", 1, "0029")
    assert clip.attributes == (("vel", "6"), ("loc", "A"))
    plain = dcase.parse_clip_name(
        Path("section_01_target_train_normal_0000.wav"), 2022, "fan", "dev", "train"
    )
    assert (plain.group, plain.domain, plain.label, plain.attributes) == ("01", "target", 0, ())
    unlabelled = dcase.parse_clip_name(Path("section_03_0000.wav"), 2022, "fan", "eval", "test")
    assert (unlabelled.group, unlabelled.label, unlabelled.domain) == ("03", None, None)


def test_attribute_values_may_contain_underscores_and_dots():
    clip = dcase.parse_clip_name(
        Path("section_01_source_train_normal_0001_pat_04_05_panel_open.wav"),
        2022,
        "valve",
        "dev",
        "train",
    )
    assert clip.attributes == (("pat", "04_05"), ("panel", "open"))
    clip = dcase.parse_clip_name(
        Path("section_02_source_train_normal_0001_ac_0.05_f-n_A.wav"),
        2022,
        "slider",
        "dev",
        "train",
    )
    assert clip.attributes == (("ac", "0.05"), ("f-n", "A"))


@pytest.mark.parametrize(
    ("name", "year", "split"),
    [
        ("fan_0001.wav", 2020, "train"),
        ("id_05_00000252.wav", 2020, "train"),  # unlabelled names only exist in test sets
        ("section_00_source_test_normal_0000.wav", 2022, "train"),  # split mismatch
        ("section_03_0000.wav", 2022, "train"),
        ("section_x_source_train_normal_0000.wav", 2022, "train"),
    ],
)
def test_unparseable_names_name_the_file(name, year, split):
    with pytest.raises(DataError, match=name):
        dcase.parse_clip_name(Path(name), year, "fan", "dev", split)


ATTR_KEYS = st.sampled_from(sorted(attribute_keys()))
ATTR_VALUES = st.from_regex(r"[A-Za-z0-9.\-]{1,4}(_[0-9]{2})?", fullmatch=True).filter(
    lambda v: v.split("_")[0] not in attribute_keys()
)


@given(
    section=st.integers(0, 5),
    domain=st.sampled_from(["source", "target"]),
    split=st.sampled_from(["train", "test"]),
    label=st.sampled_from(["normal", "anomaly"]),
    index=st.integers(0, 9999),
    attrs=st.lists(st.tuples(ATTR_KEYS, ATTR_VALUES), max_size=4, unique_by=lambda kv: kv[0]),
)
def test_2022_names_round_trip(section, domain, split, label, index, attrs):
    tail = "".join(f"_{k}_{v}" for k, v in attrs)
    name = f"section_{section:02d}_{domain}_{split}_{label}_{index:04d}{tail}.wav"
    clip = dcase.parse_clip_name(Path(name), 2022, "fan", "dev", split)
    assert clip.group == f"{section:02d}"
    assert clip.domain == domain
    assert clip.label == int(label == "anomaly")
    assert clip.index == f"{index:04d}"
    assert clip.attributes == tuple(attrs)


@given(
    machine_id=st.integers(0, 99),
    index=st.integers(0, 99999999),
    label=st.sampled_from(["normal", "anomaly", None]),
)
def test_2020_names_round_trip(machine_id, index, label):
    prefix = f"{label}_" if label else ""
    name = f"{prefix}id_{machine_id:02d}_{index:08d}.wav"
    clip = dcase.parse_clip_name(Path(name), 2020, "pump", "dev", "test")
    assert clip.group == f"{machine_id:02d}"
    assert clip.label == (None if label is None else int(label == "anomaly"))


def test_machine_names_match_case_insensitively_and_wrong_ones_list_valid():
    assert MachineType.parse(22, "toycar") == MachineType(2022, "ToyCar")
    assert MachineType.parse("2020", "TOYCONVEYOR").name == "ToyConveyor"
    assert MachineType.parse(" 22 ", "fan").short_year == "22"
    with pytest.raises(UsageError) as err:
        MachineType.parse(22, "pump")
    assert "bearing, fan, gearbox" in str(err.value)
    with pytest.raises(UsageError, match="Did you mean ToyCar"):
        MachineType.parse(22, "toycat")
    with pytest.raises(UsageError, match="--year 20 to 26"):
        parse_year(19)
    assert parse_year(2022) == parse_year("22") == 2022


def test_discovers_training_sets_per_train_set(tmp_path):
    for subset, section in (("dev", "00"), ("eval", "03")):
        for i in range(2):
            write_tone(
                tmp_path
                / f"{subset}_data/fan/train/section_{section}_source_train_normal_{i:04d}.wav",
                seconds=0.1,
            )
    assert [c.group for c in dcase.training_clips(tmp_path, 2022, "fan", "dev")] == ["00", "00"]
    assert len(dcase.training_clips(tmp_path, 2022, "fan", "deval")) == 4
    with pytest.raises(DataError, match="No eval training data"):
        dcase.training_clips(tmp_path, 2022, "gearbox", "eval")


def test_missing_root_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        dcase.require_root(tmp_path / "nowhere", 2022)
    with pytest.raises(DataError, match="No dataset folder is configured"):
        dcase.require_root(None, 2022)
    (tmp_path / "dev_data/fan/train").mkdir(parents=True)
    (tmp_path / "dev_data/fan/train/readme.txt").write_text("no audio here")
    with pytest.raises(DataError, match="No .wav files"):
        dcase.discover(tmp_path, 2022, "fan", "dev", "train")


@pytest.mark.parametrize(
    ("name", "year", "machine", "group", "domain"),
    [
        ("id_01_00000000.wav", 2020, "fan", "01", None),  # 2020 eval test
        ("id_06_00000829.wav", 2020, "ToyCar", "06", None),
        ("section_03_source_test_0000.wav", 2021, "fan", "03", "source"),  # 2021 eval test
        ("section_05_target_test_0199.wav", 2021, "gearbox", "05", "target"),
        ("section_03_0000.wav", 2022, "bearing", "03", None),  # 2022 eval test: no domain
        ("section_05_0199.wav", 2022, "valve", "05", None),
    ],
)
def test_parses_eval_test_names_of_2020_2021_and_2022(name, year, machine, group, domain):
    clip = dcase.parse_clip_name(Path(name), year, machine, "eval", "test")
    assert (clip.group, clip.domain, clip.label) == (group, domain, None)
