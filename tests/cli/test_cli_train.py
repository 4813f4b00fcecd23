"""`aegan train`: a model from the command line, clear errors, Ctrl-C and --resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from aegan import paths
from aegan.bundles.registry import bundle_path
from aegan.cli import app
from aegan.detector.detector import Detector
from aegan.synth.dataset import SynthSpec, write_dataset
from aegan.training import runs
from aegan.training.wgan import Trainer
from tests.conftest import SET_SMALL

TINY = [
    *SET_SMALL,
    "--set", "train.batch_size=32", "--set", "train_set=dev", "--gpu", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dcase22")
    spec = SynthSpec(
        year=22, machines=("fan",), seconds=1.5, train_source=4, train_target=1,
        test_normal=2, test_anomaly=2, subsets=("dev",), seed=5,
    )  # fmt: skip
    write_dataset(root, spec)
    return root


def run_train(runner, root: Path, *extra: str):
    return runner.invoke(
        app, ["train", "FAN", "--year", "22", "--data-dir", str(root), *TINY, *extra]
    )


def written_files() -> list[Path]:
    """Files in the runs and models folders (which a failed command may create, empty)."""
    folders = [paths.runs_dir(), paths.models_dir()]
    return [p for folder in folders if folder.exists() for p in folder.rglob("*")]


def test_train_saves_a_named_model_and_says_how_to_use_it(runner, data_root):
    result = run_train(runner, data_root, "--epochs", "1", "--name", "m1", "--select", "last")
    assert result.exit_code == 0, result.output
    assert str(bundle_path("m1")) in result.stdout
    assert "aegan test fan --year 22 --model m1" in result.stdout
    assert "aegan score FILE... --model m1" in result.stdout
    assert "dev test hmean, epoch 1" in result.output  # the validation table
    detector = Detector.load_file(bundle_path("m1"))
    assert detector.cfg.train.epochs == 1 and detector.provenance.selection == "last"
    again = run_train(runner, data_root, "--epochs", "1", "--name", "m1")
    assert again.exit_code == 2 and "already exists" in again.output


def test_ctrl_c_prints_the_resume_command_and_resume_finishes(runner, data_root, monkeypatch):
    original = Trainer.run_epoch

    def interrupted_second_epoch(self, data, epoch, *args, **kwargs):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, data, epoch, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run_epoch", interrupted_second_epoch)
    result = run_train(runner, data_root, "--epochs", "2", "--name", "m2")
    assert result.exit_code == 130
    command = f"aegan train fan --year 22 --name m2 --resume --gpu cpu --data-dir {data_root}"
    assert command in result.output and "epochs 1-1 are saved" in result.output
    assert not bundle_path("m2").exists()
    monkeypatch.setattr(Trainer, "run_epoch", original)
    resumed = runner.invoke(app, command.split()[1:])
    assert resumed.exit_code == 0, resumed.output
    assert runs.read_checkpoint(runs.run_dir("m2")).epoch == 2
    assert Detector.load_file(bundle_path("m2")).provenance.epochs == 2


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--set", "train.batch_size=1024"], 1, "has 240 segments, fewer than one batch of 1024"),
        (["--set", "train.batchsize=4"], 2, "Unknown config key 'train.batchsize'"),
        (["--select", "best"], 2, "train.select"),
        (["--name", "../up"], 2, "Invalid model name"),
        (["--resume"], 2, "no run of fan (DCASE 2022) to resume"),
    ],
)
def test_user_mistakes_give_one_clear_message_and_write_nothing(
    runner, data_root, extra, code, message
):
    result = run_train(runner, data_root, *extra)
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not written_files()


def test_a_gpu_that_does_not_exist_is_a_usage_error(runner, data_root):
    result = runner.invoke(app, ["train", "fan", "--data-dir", str(data_root), "--gpu", "7"])
    assert result.exit_code == 2 and "GPU" in result.output


def test_missing_training_data_and_missing_test_data_are_explained(runner, tmp_path, data_root):
    result = run_train(runner, tmp_path)
    assert result.exit_code == 1 and "No dev training data" in " ".join(result.output.split())
    train_only = tmp_path / "train_only/dev_data/fan"
    train_only.mkdir(parents=True)
    (train_only / "train").symlink_to(data_root / "dev_data/fan/train")
    result = run_train(runner, tmp_path / "train_only", "--select", "paper")
    assert result.exit_code == 1 and "--select last" in result.output
    assert not written_files()
