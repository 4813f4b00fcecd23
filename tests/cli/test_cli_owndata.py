"""Your own machine: `aegan train --data DIR`, then `aegan test NAME --data DIR`, learns.

The folder is a synthetic own machine (aegan.synth.folder): recordings named by
place and time, in mixed sample rates, channel counts and containers. The
model is tiny and trains for a few seconds; the untrained baseline is the same
network as initialised by the same seed, calibrated on the same recordings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aegan.bundles.provenance import Provenance
from aegan.bundles.registry import bundle_path
from aegan.calibration.calibrate import calibrate
from aegan.cli import app
from aegan.detector.detector import Detector
from aegan.model.nets import Discriminator, Generator
from aegan.owndata.folder import OwnData
from aegan.owndata.training import own_config, own_inputs
from aegan.results.assess import assess_folder
from aegan.synth.folder import OwnSpec, write_own_folder
from tests.conftest import SMALL_NET, set_options

SPEC = OwnSpec(seconds=2.0, train=10, test_normal=5, test_anomaly=5, anomaly_strength=3.0)
SETTINGS = [
    *SMALL_NET, "train.batch_size=32", "feat.segment_hop=2", "train.lr_g=0.001",
    "train.lr_d=0.001", "detect.score=G_x_2_sum",
]  # fmt: skip
"""A tiny network that learns in a few seconds; the score is fixed beforehand (no test labels)."""
SCORE = "G_x_2_sum"


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: a network this small gains nothing from more, and on a busy shared
    CPU the threads of each operation wait on each other (about 10x the CPU time per step)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def own_folder(tmp_path) -> Path:
    folder = tmp_path / "line3"
    write_own_folder(folder, SPEC)
    return folder


def untrained_auc(folder: Path) -> float:
    """The AUC of the network training starts from (same seed), calibrated, before any step."""
    data = OwnData.at(folder)
    cfg = own_config(data, None, None, None, SETTINGS)
    train_sets, _ = own_inputs(cfg, data, with_test=False)
    torch.manual_seed(cfg.train.seed)
    detector = calibrate(
        cfg, Generator(cfg.net), Discriminator(cfg.net), train_sets,
        provenance=Provenance.new("untrained"), name="untrained",
    )  # fmt: skip
    result = assess_folder(detector, data, out_dir=folder.parent / "untrained")
    assert result.evaluation is not None
    return result.evaluation.scores[SCORE].summary["auc_source"]


def test_train_on_an_own_folder_then_test_it_learns(runner, own_folder):
    sets = set_options(SETTINGS)
    trained = runner.invoke(
        app,
        ["train", "--data", str(own_folder), "--name", "line3", "--epochs", "8",
         "--select", "last", "--gpu", "cpu", *sets],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert f"aegan test line3 --data {own_folder}" in trained.stdout
    assert "test hmean, epoch 8" in trained.output  # validated on DIR/test every epoch
    provenance = Detector.load_file(bundle_path("line3")).provenance
    assert provenance.data == str(own_folder.resolve()) and provenance.selection == "last"

    tested = runner.invoke(app, ["test", "line3", "--data", str(own_folder), "--json"])
    assert tested.exit_code == 0, tested.output
    result = json.loads(tested.stdout)
    assert result["subset"] == "own" and result["data"] == str(own_folder.resolve())
    auc = result["evaluation"]["scores"][SCORE]["summary"]["auc_source"]
    baseline = untrained_auc(own_folder)
    assert auc >= baseline + 0.25, (auc, baseline)
    folder = Path(result["files"][0]).parent
    assert sorted(p.name for p in folder.iterdir()) == ["results.json", "scores.csv"]
    rows = (folder / "scores.csv").read_text().splitlines()
    assert rows[1].startswith("test/normal/line3_") and len(rows) == 1 + 10

    report = runner.invoke(app, ["report", "--format", "markdown"])
    assert report.exit_code == 0, report.output
    assert "Own data sets" in report.stdout and "| line3 " in report.stdout
    listed = runner.invoke(app, ["models", "--json"])
    entry = next(e for e in json.loads(listed.stdout) if e["name"] == "line3")
    assert entry["data"] == str(own_folder) and entry["state"] == "ready"
    assert "own: line3" in runner.invoke(app, ["models"]).stdout
    clip = next((own_folder / "test" / "anomaly").iterdir())
    scored = runner.invoke(app, ["score", str(clip), "--model", "line3", "--json", "--gpu", "cpu"])
    assert scored.exit_code == 0, scored.output


def test_without_a_test_folder_training_keeps_the_last_epoch_and_says_so(runner, own_folder):
    for path in sorted((own_folder / "test").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (own_folder / "test").rmdir()
    sets = set_options(SETTINGS)
    result = runner.invoke(
        app, ["train", "--data", str(own_folder), "--name", "quiet", "--epochs", "1", *sets,
              "--gpu", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the last epoch and the recipe's score (no test labels used)" in result.stdout
    assert Detector.load_file(bundle_path("quiet")).provenance.selection == "last"


def test_init_starts_from_the_given_models_weights(runner, own_folder, installed_bundle):
    """With learning rates of nearly zero, the trained model keeps --init's weights."""
    result = runner.invoke(
        app,
        ["train", "--data", str(own_folder), "--name", "tuned", "--init", "fan-small",
         "--epochs", "1", "--set", "train.lr_g=1e-12", "--set", "train.lr_d=1e-12",
         "--set", "train.batch_size=32",
         "--select", "last", "--gpu", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    start, tuned = Detector.load("fan-small"), Detector.load("tuned")
    for before, after in zip(
        start.generator.state_dict().values(), tuned.generator.state_dict().values(), strict=True
    ):
        if before.is_floating_point():
            torch.testing.assert_close(before, after, atol=1e-6, rtol=0)
