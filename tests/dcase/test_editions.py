"""Every DCASE Task 2 edition, 2020 to 2026: years, machine types per subset, archives,
real file names from each edition's official eval list, its ground truth, and recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from aegan.config import schema as config
from aegan.config.recipes import recipe_origin
from aegan.dcase.clips import parse_clip_name
from aegan.dcase.facts import YEARS, MachineType, edition, parse_year
from aegan.dcase.ground_truth import ground_truth_files, read_ground_truth
from aegan.errors import DataError, UsageError
from aegan.hub.archives import dcase_archives

# Rows of the official eval lists (nttcslab/dcase2023_task2_baseline_ae,
# datasets/eval_data_list_<year>.csv): machine type, eval file name, labelled name.
REAL_EVAL_ROWS = {
    2020: [("valve", "id_01_00000006.wav", "anomaly_id_01_00000026.wav")],
    2021: [("pump", "section_03_source_test_0006.wav", "section_03_source_test_normal_0006.wav")],
    2022: [("gearbox", "section_03_0006.wav", "section_03_target_test_normal_0006_volt_2.7.wav")],
    2023: [
        ("bandsaw", "section_00_0046.wav", "section_00_source_test_anomaly_0046_vel_15.wav"),
        ("grinder", "section_00_0056.wav",
         "section_00_source_test_anomaly_0056_grindstone_3_plate_3.wav"),
    ],
    2024: [
        ("3DPrinter", "section_00_0001.wav", "section_00_target_test_anomaly_0001_mdl_B_spd_2.wav"),
        ("AirCompressor", "section_00_0007.wav",
         "section_00_target_test_anomaly_0007_noAttribute.wav"),
        ("HoveringDrone", "section_00_0099.wav",
         "section_00_target_test_anomaly_0024_noAttribute.wav"),
    ],
    2025: [
        ("AutoTrash", "section_00_0006.wav",
         "section_00_source_test_normal_0048_id_B2_spd_1_mic_2.wav"),
        ("HomeCamera", "section_00_0006.wav",
         "section_00_target_test_normal_0007_id_C1_spd_1_mic_3.wav"),
    ],
}  # fmt: skip


def test_year_accepts_20_to_26_in_both_spellings() -> None:
    assert YEARS == (2020, 2021, 2022, 2023, 2024, 2025, 2026)
    for year in YEARS:
        assert parse_year(year) == parse_year(str(year % 100)) == parse_year(f" {year} ") == year
    with pytest.raises(UsageError, match="--year 20 to 26"):
        parse_year(27)


def test_first_shot_editions_have_their_own_machine_types_per_subset() -> None:
    facts = edition(2024)
    assert "fan" in facts.machines_in("dev") and "fan" not in facts.machines_in("eval")
    assert MachineType.parse(24, "toothbrush") == MachineType(2024, "ToothBrush")
    assert facts.subsets_of("ToothBrush") == ("eval",)
    assert edition(2021).subsets_of("pump") == ("dev", "eval")
    assert edition(2023).sections == {"dev": ("00",), "eval": ("00",)}
    assert edition(2026).machines_in("dev")[:2] == ("ToyCar", "ToyCarEmu")
    with pytest.raises(UsageError, match="Valid machine types for 2025"):
        MachineType.parse(25, "pump")


def test_archives_are_the_subsets_a_machine_type_is_in_with_renamed_zips() -> None:
    assert [a.name for a in dcase_archives(2024, "fan", "all")] == ["dev_fan.zip"]
    assert dcase_archives(2024, "fan", "eval") == []
    assert [(a.record, a.name) for a in dcase_archives(2024, "3DPrinter", "all")] == [
        (11259435, "eval_data_3DPrinter_train_r2.zip"),
        (11363076, "eval_data_3DPrinter_test.zip"),
    ]
    assert [a.name for a in dcase_archives(2026, "ToyCar", "all")] == ["dev_ToyCar_r2.zip"]
    assert [a.splits for a in dcase_archives(2026, "Sander", "all")] == [("train",), ("test",)]
    (train,) = [a for a in dcase_archives(2025, "Polisher", "eval") if "train" in a.splits]
    assert train.extra == ("supplemental",) and train.record == 15392814
    assert [a.name for a in dcase_archives(2021, "pump", "all")] == [
        "dev_data_pump.zip", "eval_data_pump_train.zip", "eval_data_pump_test.zip",
    ]  # fmt: skip


@pytest.mark.parametrize("year", sorted(REAL_EVAL_ROWS))
def test_real_eval_names_parse_and_their_labelled_names_give_label_and_domain(year: int) -> None:
    for machine, name, labelled in REAL_EVAL_ROWS[year]:
        clip = parse_clip_name(name, year, machine, "eval", "test")
        assert clip.label is None and clip.group in edition(year).sections.get("eval", ("01",))
        known = parse_clip_name(labelled, year, machine, "eval", "test")
        assert known.label == int("anomaly" in labelled) and known.group == clip.group
        assert known.domain == (None if year == 2020 else labelled.split("_")[2])
        if "noAttribute" in labelled:
            assert known.attributes == ()


def test_2021_eval_names_carry_the_domain_and_2024_training_names_may_withhold_attributes():
    clip = parse_clip_name("section_04_target_test_0012.wav", 2021, "fan", "eval", "test")
    assert (clip.group, clip.domain, clip.label) == ("04", "target", None)
    train = parse_clip_name(
        "section_00_source_train_normal_0001_noAttribute.wav", 2024, "AirCompressor", "eval",
        "train",
    )  # fmt: skip
    assert train.attributes == () and train.domain == "source"


def test_2025_supplementary_recordings_parse_as_unlabelled_clips() -> None:
    clip = parse_clip_name(
        "section_00_machine_0001_id_B2.wav", 2025, "AutoTrash", "eval", "supplemental"
    )
    assert (clip.group, clip.index, clip.label, clip.attributes) == (
        "00",
        "0001",
        None,
        (("id", "B2"),),
    )


def write_list(folder: Path, year: int, rows: list[tuple[str, str, str]]) -> None:
    (relative,) = ground_truth_files(year, rows[0][0])
    lines = []
    for machine in dict.fromkeys(m for m, _, _ in rows):
        lines.append(machine)
        lines += [f"{name},{labelled}" for m, name, labelled in rows if m == machine]
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("year", [2021, 2023, 2024, 2025])
def test_the_official_eval_list_gives_labels_and_domains(tmp_path: Path, year: int) -> None:
    rows = REAL_EVAL_ROWS[year]
    write_list(tmp_path, year, rows)
    for machine, name, labelled in rows:
        truth = read_ground_truth(tmp_path, year, machine)
        assert truth == {name: (int("anomaly" in labelled), labelled.split("_")[2])}


def test_unpublished_2026_labels_are_read_in_the_2024_evaluator_layout(tmp_path: Path) -> None:
    assert ground_truth_files(2026, "Sander") == [
        "ground_truth_data/ground_truth_Sander_section_00_test.csv",
        "ground_truth_domain/ground_truth_Sander_section_00_test.csv",
    ]
    with pytest.raises(DataError, match="not published yet") as missing:
        read_ground_truth(tmp_path, 2026, "Sander")
    assert (
        "--ground-truth DIR" in missing.value.hint and "ground_truth_domain/" in missing.value.hint
    )
    for role, flags in (("data", "0\n1"), ("domain", "1\n0")):
        path = tmp_path / f"ground_truth_{role}/ground_truth_Sander_section_00_test.csv"
        path.parent.mkdir(exist_ok=True)
        names = ("section_00_0000.wav", "section_00_0001.wav")
        path.write_text("".join(f"{n},{f}\n" for n, f in zip(names, flags.split(), strict=True)))
    assert read_ground_truth(tmp_path, 2026, "Sander") == {
        "section_00_0000.wav": (0, "target"),
        "section_00_0001.wav": (1, "source"),
    }


def test_editions_without_recipes_borrow_2022_and_say_why() -> None:
    fan = config.load_config(24, "fan")
    assert fan.train_set == "dev" and fan.detect.score == "G_z_cos_min"  # 2022 fan recipe
    assert not fan.net.first_norm and fan.train.epochs == 60
    assert "the DCASE 2022 recipe of fan" in recipe_origin(MachineType(2024, "fan"))
    brush = config.load_config(24, "ToothBrush")
    assert (brush.train_set, brush.train.select, brush.detect.score) == (
        "eval", "last", "G_z_1_sum",
    )  # fmt: skip
    origin = recipe_origin(MachineType(2024, "ToothBrush"))
    assert "the DCASE 2022 defaults" in origin and "eval-only" in origin
    pump = config.load_config(21, "pump")  # no 2022 pump: the 2022 defaults
    assert pump.train_set == "dev" and pump.detect.score == "G_z_1_sum"
    assert "DCASE 2022 has none for pump" in recipe_origin(MachineType(2021, "pump"))
    assert config.load_config(21, "gearbox").net.norm_g == "bn"  # the 2022 gearbox recipe
    assert recipe_origin(MachineType(2022, "fan")) == "the published DCASE 2022 recipe of fan"
    assert config.load_config(22, "fan").train_set == "deval"  # unchanged for 2022


def test_a_list_row_without_a_labelled_name_is_malformed(tmp_path: Path) -> None:
    write_list(tmp_path, 2024, [("fan", "section_00_0001.wav", "section_00_0002.wav")])
    with pytest.raises(DataError, match="malformed row"):
        read_ground_truth(tmp_path, 2024, "fan")
