"""aegan.synth.dataset writes DCASE-format trees that the rest of aegan (and a detector) can use."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import roc_auc_score

from aegan.dcase.clips import Clip, discover, parse_clip_name
from aegan.dcase.ground_truth import GROUND_TRUTH_DIR
from aegan.errors import DataError, UsageError
from aegan.synth.dataset import SynthSpec, SynthSummary, write_dataset
from aegan.synth.plan import groups_of

SPEC_2022 = SynthSpec(
    year=22, machines=("fan", "valve"), seconds=1.0, train_source=4, train_target=2,
    test_normal=3, test_anomaly=2, seed=1,
)  # fmt: skip
SPEC_2020 = SynthSpec(
    year=20, machines=("fan", "ToyCar"), seconds=1.0, train_source=4,
    test_normal=3, test_anomaly=2, seed=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def written22(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return write_dataset(tmp_path_factory.mktemp("synth22"), SPEC_2022)


@pytest.fixture(scope="module")
def written20(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return write_dataset(tmp_path_factory.mktemp("synth20"), SPEC_2020)


@pytest.fixture
def tree22(written22: SynthSummary) -> Path:
    return written22.root


@pytest.fixture
def tree20(written20: SynthSummary) -> Path:
    return written20.root


def all_clips(root: Path, spec: SynthSpec) -> list[Clip]:
    return [
        clip
        for machine in spec.machines
        for subset in ("dev", "eval")
        for split in ("train", "test")
        for clip in discover(root, spec.year, machine, subset, split)
    ]


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


def eval_list_2020(root: Path) -> dict[str, list[list[str]]]:
    """The 2020 evaluator's list: a machine-type line, then that type's rows."""
    blocks: dict[str, list[list[str]]] = {}
    for row in read_csv(root / GROUND_TRUTH_DIR / "eval_data_list.csv"):
        if len(row) == 1:
            machine = row[0]
            blocks[machine] = []
        else:
            blocks[machine].append(row)
    return blocks


@pytest.mark.parametrize(("written", "spec"), [("written20", SPEC_2020), ("written22", SPEC_2022)])
def test_every_written_clip_is_discovered_and_counted(
    request: pytest.FixtureRequest, written: str, spec: SynthSpec
) -> None:
    summary: SynthSummary = request.getfixturevalue(written)
    clips = all_clips(summary.root, spec)
    assert sorted(c.path for c in clips) == sorted(summary.root.rglob("*.wav"))
    assert summary.counts == Counter((c.machine, c.subset, c.split, c.group) for c in clips)
    assert summary.total == len(clips) > 0


def test_2022_names_carry_sections_domains_labels_and_attributes(tree22: Path) -> None:
    spec = SPEC_2022
    for machine in spec.machines:
        dev_train = discover(tree22, 2022, machine, "dev", "train")
        dev_test = discover(tree22, 2022, machine, "dev", "test")
        eval_train = discover(tree22, 2022, machine, "eval", "train")
        eval_test = discover(tree22, 2022, machine, "eval", "test")
        per_domain = {"source": spec.train_source, "target": spec.train_target}
        for train, sections in ((dev_train, ("00", "01", "02")), (eval_train, ("03", "04", "05"))):
            expected = {(s, d, 0): n for s in sections for d, n in per_domain.items()}
            assert Counter((c.group, c.domain, c.label) for c in train) == expected
        expected_test = {
            (s, d, label): n
            for s in ("00", "01", "02")
            for d in ("source", "target")
            for label, n in ((0, spec.test_normal), (1, spec.test_anomaly))
        }
        assert Counter((c.group, c.domain, c.label) for c in dev_test) == expected_test
        assert Counter(c.group for c in eval_test) == {
            s: 2 * (spec.test_normal + spec.test_anomaly) for s in ("03", "04", "05")
        }
        assert all(c.label is None and c.domain is None for c in eval_test)
        assert all(c.attributes for c in dev_train + dev_test + eval_train)
        source = {c.attributes for c in dev_train if c.domain == "source"}
        target = {c.attributes for c in dev_train if c.domain == "target"}
        assert source.isdisjoint(target)


def test_2020_names_carry_machine_ids_and_labels(tree20: Path) -> None:
    spec = SPEC_2020
    for machine in spec.machines:
        train = discover(tree20, 2020, machine, "dev", "train")
        dev_test = discover(tree20, 2020, machine, "dev", "test")
        eval_test = discover(tree20, 2020, machine, "eval", "test")
        dev_ids, eval_ids = groups_of(2020, "dev"), groups_of(2020, "eval")
        assert set(dev_ids).isdisjoint(eval_ids)
        assert Counter((c.group, c.label) for c in train) == {(g, 0): 4 for g in dev_ids}
        assert Counter((c.group, c.label) for c in dev_test) == {
            (g, label): n for g in dev_ids for label, n in ((0, 3), (1, 2))
        }
        assert Counter(c.group for c in eval_test) == {g: 5 for g in eval_ids}
        assert all(c.label is None and c.name.startswith("id_") for c in eval_test)
        eval_train = discover(tree20, 2020, machine, "eval", "train")
        assert {c.group for c in eval_train} == set(eval_ids)


def test_2022_ground_truth_lists_every_eval_test_clip_in_evaluator_format(
    written22: SynthSummary,
) -> None:
    spec, tree22 = SPEC_2022, written22.root
    assert len(written22.ground_truth) == len(spec.machines) * 3 * 2
    for machine in spec.machines:
        eval_test = discover(tree22, 2022, machine, "eval", "test")
        for section in ("03", "04", "05"):
            name = f"ground_truth_{machine}_section_{section}_test.csv"
            labels = read_csv(tree22 / GROUND_TRUTH_DIR / "ground_truth_data" / name)
            domains = read_csv(tree22 / GROUND_TRUTH_DIR / "ground_truth_domain" / name)
            files = sorted(c.name for c in eval_test if c.group == section)
            assert tree22 / GROUND_TRUTH_DIR / "ground_truth_data" / name in written22.ground_truth
            assert [row[0] for row in labels] == [row[0] for row in domains] == files
            pairs = Counter((d[1], lab[1]) for d, lab in zip(domains, labels, strict=True))
            n, a = spec.test_normal, spec.test_anomaly
            assert pairs == {("0", "0"): n, ("0", "1"): a, ("1", "0"): n, ("1", "1"): a}


def test_2020_ground_truth_is_one_evaluator_list_per_tree(tree20: Path) -> None:
    listed = eval_list_2020(tree20)
    assert list(listed) == ["fan", "ToyCar"]  # the machine order of DCASE 2020
    for machine, entries in listed.items():
        eval_test = discover(tree20, 2020, machine, "eval", "test")
        assert [e[0] for e in entries] == sorted(c.name for c in eval_test)
        for eval_name, labelled_name, label in entries:
            labelled = parse_clip_name(labelled_name, 2020, machine, "eval", "test")
            assert labelled.label == int(label)
            assert labelled.group == parse_clip_name(eval_name, 2020, machine, "eval", "test").group
        assert Counter(e[2] for e in entries) == {"0": 9, "1": 6}


def test_2020_ground_truth_keeps_machines_written_earlier(tmp_path: Path) -> None:
    small = {"year": 20, "seconds": 0.5, "train_source": 1, "test_normal": 1, "test_anomaly": 1}
    write_dataset(tmp_path, SynthSpec(machines=("valve",), **small))
    write_dataset(tmp_path, SynthSpec(machines=("pump",), **small))
    listed = eval_list_2020(tmp_path)
    assert list(listed) == ["pump", "valve"]
    assert [len(rows) for rows in listed.values()] == [3 * 2, 3 * 2]


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = SynthSpec(year=22, machines=("gearbox",), seconds=0.5, train_source=2, train_target=1,
                     test_normal=1, test_anomaly=1)  # fmt: skip
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_dataset(first, spec)
    write_dataset(second, spec)
    write_dataset(other, dataclasses.replace(spec, seed=7))

    def contents(root: Path) -> dict[Path, bytes]:
        return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert contents(first) == contents(second)
    train = [p for p in contents(first) if p.parent.name == "train"]
    assert all(contents(first)[p] != contents(other)[p] for p in train)


def test_rewriting_is_allowed_but_mixing_with_other_clips_is_refused(tmp_path: Path) -> None:
    spec = SynthSpec(year=20, machines=("slider",), seconds=0.5, train_source=3,
                     test_normal=1, test_anomaly=1)  # fmt: skip
    write_dataset(tmp_path, spec)
    write_dataset(tmp_path, spec)
    smaller = dataclasses.replace(spec, train_source=2)
    with pytest.raises(DataError, match="would not write"):
        write_dataset(tmp_path, smaller)
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize(("seconds", "sample_rate"), [(2.0, 16000), (0.5, 8000)])
def test_clips_are_mono_16_bit_wav_of_the_requested_length(
    tmp_path: Path, seconds: float, sample_rate: int
) -> None:
    spec = SynthSpec(year=22, machines=("bearing",), seconds=seconds, sample_rate=sample_rate,
                     train_source=1, train_target=1, test_normal=1, test_anomaly=4,
                     subsets=("dev",))  # fmt: skip
    write_dataset(tmp_path, spec)
    for path in tmp_path.rglob("*.wav"):
        info = sf.info(path)
        assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
        assert (info.samplerate, info.frames) == (sample_rate, round(seconds * sample_rate))
        samples = sf.read(path)[0]
        assert np.sqrt(np.mean(samples**2)) > 0.01 and np.abs(samples).max() < 0.99


def mean_log_mel_shape(path: Path) -> np.ndarray:
    """A clip's average log-mel spectrum with its overall level removed."""
    y, sr = sf.read(path)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=64)
    profile = librosa.power_to_db(mel).mean(axis=1)
    return profile - profile.mean()


def eval_truth_2022(root: Path, machine: str, clips: list[Clip]) -> list[tuple[int, str | None]]:
    truth: dict[str, tuple[int, str | None]] = {}
    for section in {c.group for c in clips}:
        name = f"ground_truth_{machine}_section_{section}_test.csv"
        labels = read_csv(root / GROUND_TRUTH_DIR / "ground_truth_data" / name)
        domains = dict(read_csv(root / GROUND_TRUTH_DIR / "ground_truth_domain" / name))
        for file_name, label in labels:
            truth[file_name] = (int(label), ("source", "target")[int(domains[file_name])])
    return [truth[c.name] for c in clips]


def eval_truth_2020(root: Path, machine: str, clips: list[Clip]) -> list[tuple[int, str | None]]:
    truth = {row[0]: int(row[2]) for row in eval_list_2020(root)[machine]}
    return [(truth[c.name], None) for c in clips]


@pytest.mark.parametrize(
    ("year", "machines"), [(2022, ("bearing", "ToyCar")), (2020, ("pump", "slider"))]
)
def test_loudness_cannot_find_anomalies_but_the_spectrum_can(
    tmp_path: Path, year: int, machines: tuple[str, ...]
) -> None:
    spec = SynthSpec(year=year, machines=machines, seconds=4.0, train_source=8, train_target=3,
                     test_normal=8, test_anomaly=8, seed=3)  # fmt: skip
    write_dataset(tmp_path, spec)
    for subset in ("dev", "eval"):
        labels, spectral, loudness = [], [], []
        for machine in machines:
            train = discover(tmp_path, year, machine, subset, "train")
            reference: dict[tuple[str, str | None], list[np.ndarray]] = {}
            for clip in train:
                reference.setdefault((clip.group, clip.domain), []).append(
                    mean_log_mel_shape(clip.path)
                )
            test = discover(tmp_path, year, machine, subset, "test")
            if subset == "dev":
                truth = [(int(c.label or 0), c.domain) for c in test]
            elif year == 2022:
                truth = eval_truth_2022(tmp_path, machine, test)
            else:
                truth = eval_truth_2020(tmp_path, machine, test)
            for clip, (label, domain) in zip(test, truth, strict=True):
                mean = np.mean(reference[(clip.group, domain)], axis=0)
                spectral.append(np.linalg.norm(mean_log_mel_shape(clip.path) - mean))
                loudness.append(np.sqrt(np.mean(sf.read(clip.path)[0] ** 2)))
                labels.append(label)
        assert roc_auc_score(labels, spectral) > 0.9, subset
        assert 0.35 < roc_auc_score(labels, loudness) < 0.65, subset


def test_spec_accepts_short_year_and_any_case_and_rejects_bad_values() -> None:
    spec = SynthSpec(year=22, machines=["toycar", "FAN"], subsets=["eval"])
    assert (spec.year, spec.machines, spec.subsets) == (2022, ("ToyCar", "fan"), ("eval",))
    with pytest.raises(UsageError, match="ToyCar"):
        SynthSpec(year=22, machines=("ToyConveyor",))
    with pytest.raises(UsageError, match="test_anomaly"):
        SynthSpec(test_anomaly=-1)
    with pytest.raises(UsageError, match="seconds"):
        SynthSpec(seconds=0.1)
    with pytest.raises(UsageError, match="subsets"):
        SynthSpec(subsets=("train",))


def test_progress_reports_every_clip(tmp_path: Path) -> None:
    calls: list[tuple[str, float, float | None]] = []
    spec = SynthSpec(year=20, machines=("valve",), seconds=0.5, train_source=2,
                     test_normal=1, test_anomaly=1, subsets=("dev",))  # fmt: skip
    summary = write_dataset(tmp_path, spec, progress=lambda *call: calls.append(call))
    done = [call[1] for call in calls]
    assert done == list(range(summary.total + 1))
    assert {call[2] for call in calls} == {summary.total}
