import csv
import io
import json

import numpy as np

import aegan
from aegan.cli import app
from tests.conftest import write_tone


def _test_folder(root):
    return root / "dev_data/fan/test"


def test_python_api_scores_files_and_arrays(installed_bundle, synth22):
    detector = aegan.Detector.load("fan-small")
    wav = sorted(_test_folder(synth22).iterdir())[0]
    value = detector.score(wav)
    assert isinstance(value, float)
    assert value == detector.score(str(wav))
    assert isinstance(detector.score(np.zeros(24000, np.float32) + 0.01), float)


def test_score_folder_with_good_and_broken_files(runner, installed_bundle, synth22, tmp_path):
    folder = tmp_path / "recordings"
    good = sorted(_test_folder(synth22).glob("*.wav"))[:3]
    for wav in good:
        (folder / "ok").mkdir(parents=True, exist_ok=True)
        (folder / "ok" / wav.name).write_bytes(wav.read_bytes())
    (folder / "broken.wav").write_text("not audio")
    write_tone(folder / "short.wav", seconds=0.4)
    result = runner.invoke(app, ["score", str(folder), "--model", "fan-small", "--json"])
    assert result.exit_code == 1  # unreadable files are reported, the others scored
    rows = {row["file"].rsplit("/", 1)[1]: row for row in json.loads(result.stdout)["files"]}
    assert len(rows) == 5
    assert "Format not recognised" in rows["broken.wav"]["error"]
    assert "too short" in rows["short.wav"]["error"]
    scored = [r for r in rows.values() if r["error"] is None]
    assert len(scored) == 3 and all(r["decision"] in ("normal", "anomaly") for r in scored)
    table = runner.invoke(app, ["score", str(folder), "-m", "fan-small"])
    assert table.exit_code == 1 and "unreadable" in table.stdout and "broken.wav" in table.stdout


def test_fail_on_anomaly_exit_code_and_csv(runner, installed_bundle, synth22):
    folder = _test_folder(synth22)
    with_lof = runner.invoke(
        app, ["score", str(folder), "-m", "fan-small", "--score", "D_maha", "--csv"]
    )
    rows = list(csv.DictReader(io.StringIO(with_lof.stdout)))
    assert with_lof.exit_code == 0 and len(rows) == 36
    anomalous = any(r["decision"] == "anomaly" for r in rows)
    strict = runner.invoke(
        app, ["score", str(folder), "-m", "fan-small", "--score", "D_maha", "--fail-on-anomaly"]
    )
    assert strict.exit_code == (3 if anomalous else 0)
    assert anomalous  # the synthetic anomalies cross the calibrated threshold


def test_score_usage_errors(runner, installed_bundle, synth22, tmp_path):
    wrong_score = runner.invoke(
        app, ["score", str(synth22), "-m", "fan-small", "--score", "G_x_3_sum"]
    )
    assert wrong_score.exit_code == 2 and "Unknown anomaly score" in wrong_score.output
    wrong_model = runner.invoke(app, ["score", str(synth22), "-m", "fan-smal"])
    assert wrong_model.exit_code == 2 and "Did you mean fan-small" in wrong_model.output
    nothing = runner.invoke(app, ["score", str(tmp_path / "*.wav"), "-m", "fan-small"])
    assert nothing.exit_code == 1 and "No .wav or .flac files" in nothing.output
    for result in (wrong_score, wrong_model, nothing):
        assert "Traceback" not in result.output
