import json

from aegan.cli import app
from aegan.score_names import SCORE_NAMES


def test_test_command_writes_tables_and_files(runner, synth22, installed_bundle):
    result = runner.invoke(
        app, ["test", "fan", "--year", "22", "--model", "fan-small", "--data-dir", str(synth22)]
    )
    assert result.exit_code == 0, result.output
    assert "hmean" in result.stdout and "chosen" in result.stdout and "per section" in result.stdout
    out = runner.invoke(app, ["test", "FAN", "-y", "2022", "--data-dir", str(synth22), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["model"] == "fan-small" and data["chosen_score"] == "G_z_cos_min"
    assert set(data["evaluation"]["scores"]) == set(SCORE_NAMES)
    names = sorted(p.rsplit("/", 1)[1] for p in data["files"])
    assert "anomaly_score_fan_section_00_test.csv" in names
    assert "decision_result_fan_section_02_test.csv" in names
    assert "results.json" in names and "scores.csv" in names


def test_eval_split_uses_the_ground_truth_written_beside_the_data(
    runner, synth22, installed_bundle
):
    result = runner.invoke(
        app, ["test", "fan", "-y", "22", "--split", "eval", "--data-dir", str(synth22), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["subset"] == "eval" and data["evaluation"]["subset"] == "eval"
    groups = [g["group"] for g in data["evaluation"]["scores"]["D_lof"]["groups"]]
    assert groups == ["03", "04", "05"]


def test_test_command_errors_are_clear(runner, synth22, installed_bundle, tmp_path):
    other = runner.invoke(
        app, ["test", "slider", "-y", "22", "--model", "fan-small", "--data-dir", str(synth22)]
    )
    assert other.exit_code == 1 and "is for fan (DCASE 2022), not slider" in other.output
    none = runner.invoke(app, ["test", "gearbox", "-y", "22", "--data-dir", str(synth22)])
    assert none.exit_code == 1 and "aegan fetch gearbox22" in none.output
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = runner.invoke(app, ["test", "fan", "-y", "22", "--data-dir", str(empty)])
    assert missing.exit_code == 1 and "No dev test data" in missing.output
    bad_split = runner.invoke(
        app, ["test", "fan", "-y", "22", "--split", "train", "--data-dir", str(synth22)]
    )
    assert bad_split.exit_code == 2
    for result in (other, none, missing, bad_split):
        assert "Traceback" not in result.output
