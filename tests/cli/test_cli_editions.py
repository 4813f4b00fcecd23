"""The first-shot editions end to end: fetch from the fake Zenodo, prepare, train, test
(dev and eval, against the ground truth), report and config show, for DCASE 2024."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_servers import FakeHub

from aegan.cli import app
from aegan.config.settings import save_setting
from aegan.dcase.facts import edition
from aegan.detector.detector import Detector
from aegan.synth.dataset import SynthSpec, write_dataset
from tests.conftest import SET_SMALL

pytest_plugins = ["fake_servers"]  # the fake_hub fixture

TINY = [
    *SET_SMALL,
    "--set", "train.batch_size=16", "--gpu", "cpu", "--epochs", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def first_shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DCASE 2024 fan (dev only) and ToothBrush (eval only), named as the official data."""
    root = tmp_path_factory.mktemp("synth24")
    spec = SynthSpec(
        year=2024, machines=("fan", "ToothBrush"), seconds=1.5, train_source=10,
        train_target=4, test_normal=3, test_anomaly=3, seed=3,
    )  # fmt: skip
    write_dataset(root, spec)
    return root


def invoke(runner, *args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def serve(hub: FakeHub, root: Path) -> None:
    for key, value in {
        "hub.zenodo_url": hub.url,
        "hub.github_raw_url": hub.url,
        "hub.retries": "0",
        "hub.timeout": "2",
    }.items():
        save_setting(key, value)
    for machine in ("fan", "ToothBrush"):
        hub.serve_dcase(root, 2024, machine)


def test_an_eval_only_machine_type_goes_the_whole_way(
    runner, fake_hub: FakeHub, first_shot: Path, tmp_path: Path
) -> None:
    serve(fake_hub, first_shot)
    data = tmp_path / "dcase2024"
    fetched = invoke(runner, "fetch", "--data", "toothbrush", "--year", "2024", "-d", data)
    assert fetched.exit_code == 0, fetched.output
    assert not (data / "dev_data").exists()  # ToothBrush is an eval-only machine type
    assert sorted(p.name for p in (data / "eval_data/ToothBrush/test").iterdir()) == sorted(
        p.name for p in (first_shot / "eval_data/ToothBrush/test").iterdir()
    )
    assert (data / "ground_truth" / edition(2024).ground_truth.files["list"]).is_file()

    shown = invoke(runner, "config", "show", "ToothBrush", "--year", "24")
    assert shown.exit_code == 0, shown.output
    assert "the DCASE 2022 defaults" in shown.output and "eval-only" in shown.output
    assert "train_set: eval" in shown.output

    prepared = invoke(runner, "prepare", "ToothBrush", "-y", "24", "--data-dir", data, *TINY[:12])
    assert prepared.exit_code == 0, prepared.output
    trained = invoke(
        runner, "train", "ToothBrush", "-y", "24", "--data-dir", data, "--name", "brush", *TINY
    )
    assert trained.exit_code == 0, trained.output
    recipe = Detector.load("brush").provenance.recipe
    assert recipe.startswith("the DCASE 2022 defaults") and "eval training data" in recipe

    tested = invoke(
        runner, "test", "ToothBrush", "-y", "24", "--split", "eval", "--data-dir", data, "--json"
    )
    assert tested.exit_code == 0, tested.output
    result = json.loads(tested.stdout)
    assert result["subset"] == "eval"
    figures = result["evaluation"]["scores"][result["chosen_score"]]
    assert [g["group"] for g in figures["groups"]] == ["00"]
    assert set(figures["summary"]) == {"auc_source", "auc_target", "pauc", "hmean"}
    names = sorted(Path(p).name for p in result["files"])
    assert "anomaly_score_ToothBrush_section_00_test.csv" in names
    assert "decision_result_ToothBrush_section_00_test.csv" in names

    dev = invoke(runner, "test", "ToothBrush", "-y", "24", "--data-dir", data)
    assert dev.exit_code == 1 and "No dev test data" in dev.output
    assert "Use --split eval" in dev.output

    report = invoke(runner, "report", "--format", "json")
    assert report.exit_code == 0, report.output
    assert '"year": 2024' in report.stdout and "ToothBrush" in report.stdout


def test_a_dev_machine_type_trains_on_dev_with_the_borrowed_recipe(
    runner, fake_hub: FakeHub, first_shot: Path, tmp_path: Path
) -> None:
    serve(fake_hub, first_shot)
    data = tmp_path / "dcase2024"
    fetched = invoke(runner, "fetch", "--data", "fan", "--year", "24", "-d", data)
    assert fetched.exit_code == 0, fetched.output
    assert not (data / "eval_data").exists()
    shown = invoke(runner, "config", "show", "fan", "--year", "24")
    assert "the DCASE 2022 recipe of fan" in shown.output and "train_set: dev" in shown.output
    trained = invoke(runner, "train", "fan", "-y", "24", "--data-dir", data, *TINY)
    assert trained.exit_code == 0, trained.output
    tested = invoke(runner, "test", "fan", "-y", "24", "--data-dir", data, "--json")
    assert tested.exit_code == 0, tested.output
    result = json.loads(tested.stdout)
    assert result["subset"] == "dev" and result["year"] == 2024
