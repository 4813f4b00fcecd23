"""Fetching first-shot machine types (DCASE 2024 and 2025) from the local fake Zenodo:
re-published zips, supplementary recordings, and the official eval list as ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_servers import FakeHub, ZenodoRecord, zip_bytes

from aegan.config.settings import HubSettings
from aegan.dcase.clips import discover
from aegan.dcase.facts import edition
from aegan.dcase.ground_truth import read_ground_truth
from aegan.errors import DataError
from aegan.hub import zenodo as datasets
from aegan.synth.dataset import SynthSpec, write_dataset

pytest_plugins = ["fake_servers"]  # the fake_hub and hub_settings fixtures

BACKOFF = 0.001


def tree(root: Path, year: int, machine: str) -> Path:
    spec = SynthSpec(
        year=year, machines=(machine,), seconds=0.5, sample_rate=8000, train_source=3,
        train_target=1, test_normal=2, test_anomaly=2, seed=1,
    )  # fmt: skip
    write_dataset(root, spec)
    return root


def test_a_2024_machine_comes_from_its_re_published_zip_with_the_eval_list(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    source = tree(tmp_path / "source", 2024, "3DPrinter")
    fake_hub.serve_dcase(source, 2024, "3DPrinter")
    assert "eval_data_3DPrinter_train_r2.zip" in fake_hub.zenodo[11259435].files
    root = tmp_path / "dcase2024"
    summary = datasets.fetch_dataset(2024, "3DPrinter", "all", root, hub_settings, backoff=BACKOFF)
    assert summary.downloaded == [
        "eval_data_3DPrinter_train_r2.zip", "eval_data_3DPrinter_test.zip",
    ]  # fmt: skip
    assert summary.ground_truth_error is None
    (truth_file,) = summary.ground_truth
    assert truth_file == root / "ground_truth/datasets/eval_data_list_2024.csv"
    path = f"/{edition(2024).ground_truth.github_repo}/main/datasets/eval_data_list_2024.csv"
    assert fake_hub.requests_to(path)
    test = discover(root, 2024, "3DPrinter", "eval", "test")
    truth = read_ground_truth(root / "ground_truth", 2024, "3DPrinter")
    assert sorted(truth) == sorted(c.name for c in test) and len(test) == 8
    assert {domain for _, domain in truth.values()} == {"source", "target"}


def test_a_2025_machine_keeps_its_supplementary_recordings(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    source = tree(tmp_path / "source", 2025, "AutoTrash")
    fake_hub.serve_dcase(source, 2025, "AutoTrash")
    train = sorted((source / "eval_data/AutoTrash/train").glob("*.wav"))
    extra = {f"AutoTrash/supplemental/section_00_{kind}_0001_id_B2.wav": b"RIFF" + kind.encode()
             for kind in ("machine", "noise")}  # fmt: skip
    entries = {f"AutoTrash/train/{p.name}": p.read_bytes() for p in train}
    fake_hub.zenodo[15392814] = ZenodoRecord(
        {"eval_data_AutoTrash_train.zip": zip_bytes({**entries, **extra})}
    )
    root = tmp_path / "dcase2025"
    summary = datasets.fetch_dataset(2025, "AutoTrash", "eval", root, hub_settings, backoff=BACKOFF)
    assert "eval_data_AutoTrash_train.zip" in summary.downloaded
    assert len(discover(root, 2025, "AutoTrash", "eval", "train")) == len(train)
    kept = discover(root, 2025, "AutoTrash", "eval", "supplemental")
    assert sorted(c.name for c in kept) == sorted(Path(name).name for name in extra)
    assert all(c.label is None for c in kept)
    truth = read_ground_truth(root / "ground_truth", 2025, "AutoTrash")
    assert len(truth) == 8

    again = datasets.fetch_dataset(2025, "AutoTrash", "eval", root, hub_settings, backoff=BACKOFF)
    assert again.downloaded == [] and len(again.skipped) == 2


def test_the_2026_eval_test_set_is_fetched_and_its_unpublished_labels_read_from_a_folder(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    source = tree(tmp_path / "source", 2026, "Sander")
    fake_hub.serve_dcase(source, 2026, "Sander")
    assert "eval_data_Sander_test.zip" in fake_hub.zenodo[20437238].files
    root = tmp_path / "dcase2026"
    summary = datasets.fetch_dataset(2026, "Sander", "eval", root, hub_settings, backoff=BACKOFF)
    assert summary.downloaded == ["eval_data_Sander_train.zip", "eval_data_Sander_test.zip"]
    assert summary.ground_truth == [] and summary.ground_truth_error is None
    test = discover(root, 2026, "Sander", "eval", "test")
    assert len(test) == 8 and all(c.label is None for c in test)
    with pytest.raises(DataError, match="not published yet") as missing:
        read_ground_truth(root / "ground_truth", 2026, "Sander")
    assert "--ground-truth DIR" in missing.value.hint
    truth = read_ground_truth(source / "ground_truth", 2026, "Sander")  # the evaluator layout
    assert sorted(truth) == sorted(c.name for c in test)
