import json

import pytest

from aegan import paths
from aegan.cli import app
from tests.conftest import write_tone

SMALL = ["--set", "net.isize=32", "--set", "feat.n_mels=32", "--set", "feat.segment_frames=32"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "dcase22"
    for i in range(3):
        write_tone(
            root / f"dev_data/fan/train/section_00_source_train_normal_{i:04d}_m-n_W.wav",
            seconds=1.2,
            seed=i,
        )
        write_tone(
            root / f"dev_data/fan/train/section_01_target_train_normal_{i:04d}_f-n_A.wav",
            seconds=1.2,
            seed=9 + i,
        )
    for label in ("normal", "anomaly"):
        write_tone(
            root / f"dev_data/fan/test/section_00_source_test_{label}_0000_m-n_W.wav", seconds=1.2
        )
    return root


def _prepare(runner, root, *extra):
    return runner.invoke(
        app,
        [
            "prepare",
            "FAN",
            "--year",
            "22",
            "--data-dir",
            str(root),
            "--train-set",
            "dev",
            *SMALL,
            *extra,
        ],
    )


def test_prepare_prints_a_summary_and_reuses_the_cache(runner, tree):
    first = _prepare(runner, tree, "--json")
    assert first.exit_code == 0, first.output
    sets = {s["set"]: s for s in json.loads(first.stdout)["sets"]}
    assert sets["dev_train"]["clips"] == 6 and sets["dev_train"]["groups"] == ["00", "01"]
    assert sets["dev_train"]["domains"] == {"source": 3, "target": 3}
    assert sets["dev_test"]["labels"] == {"normal": 1, "anomaly": 1}
    assert not sets["dev_train"]["cached"]
    second = _prepare(runner, tree)
    assert second.exit_code == 0
    assert "cached" in second.stdout and "dev_train" in second.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["prepare", "pump", "--year", "22"], 2, "Unknown machine type 'pump'"),
        (["prepare", "fan", "--year", "19"], 2, "Unknown DCASE year"),
        (["prepare", "fan", "--year", "22", "--data-dir", "/no/such/dir"], 1, "does not exist"),
        (["prepare", "fan", "--year", "22", "--set", "train.epoch=1"], 2, "Unknown config key"),
    ],
)
def test_usage_mistakes_give_one_message_and_an_exit_code(runner, tree, args, code, message):
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_broken_inputs_name_the_file_and_write_no_cache(runner, tree):
    bad = tree / "dev_data/fan/train/section_00_source_train_normal_0007_m-n_W.wav"
    bad.write_text("not audio")
    result = _prepare(runner, tree)
    assert result.exit_code == 1
    assert "0007_m-n_W.wav" in result.output and "Traceback" not in result.output
    assert not list(paths.features_dir().rglob("*.npy"))
    bad.unlink()
    misnamed = write_tone(tree / "dev_data/fan/train/fan_0001.wav", seconds=1.2)
    result = _prepare(runner, tree)
    assert result.exit_code == 1 and "fan_0001.wav" in result.output
    misnamed.unlink()
    for wav in (tree / "dev_data/fan/train").iterdir():
        wav.unlink()
    result = _prepare(runner, tree)
    assert result.exit_code == 1 and "No .wav files" in result.output


def test_config_show_prints_yaml_with_overrides(runner):
    result = runner.invoke(
        app, ["config", "show", "gearbox", "--year", "2022", "--set", "train.epochs=3"]
    )
    assert result.exit_code == 0
    assert "norm_g: bn" in result.stdout and "epochs: 3" in result.stdout
