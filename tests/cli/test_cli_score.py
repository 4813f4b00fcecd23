import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf

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
    noise = np.random.default_rng(0).standard_normal(24000).astype(np.float32) * 0.1
    assert isinstance(detector.score(noise), float)


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


def _long_recording(synth22, path):
    """Four 1.5-s test clips end to end: a recording of four of the small model's clips."""
    clips = sorted(_test_folder(synth22).glob("*normal*.wav"))[:4]
    samples = np.concatenate([sf.read(str(c), dtype="int16")[0] for c in clips])
    sf.write(str(path), samples, 16000, subtype="PCM_16")
    return path


def test_a_long_file_gets_a_timeline_by_default(runner, installed_bundle, synth22, tmp_path):
    long = _long_recording(synth22, tmp_path / "long.wav")
    shown = runner.invoke(app, ["score", str(long), "-m", "fan-small", "--plot", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "4 windows of 1.5 s every 1.5 s" in shown.stdout and "(worst)" in shown.stdout
    assert (tmp_path / "long-timeline.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads(runner.invoke(app, ["score", str(long), "-m", "fan-small", "--json"]).stdout)
    (row,) = data["files"]
    windows = row["timeline"]["windows"]
    assert [w["start"] for w in windows] == [0.0, 1.5, 3.0, 4.5]
    assert row["score"] == max(w["score"] for w in windows) == row["timeline"]["worst"]["score"]
    whole = json.loads(
        runner.invoke(app, ["score", str(long), "-m", "fan-small", "--json", "--whole"]).stdout
    )
    assert whole["files"][0]["timeline"] is None


def test_timeline_csv_has_a_row_per_window(runner, installed_bundle, synth22, tmp_path):
    long = _long_recording(synth22, tmp_path / "long.wav")
    short = sorted(_test_folder(synth22).glob("*.wav"))[0]
    result = runner.invoke(
        app, ["score", str(long), str(short), "-m", "fan-small", "--csv", "--hop", "0.75"]
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and list(rows[0]) == [
        "file", "start", "end", "score", "threshold", "decision", "error",
    ]  # fmt: skip
    assert [r["start"] for r in rows] == ["0.0", "0.75", "1.5", "2.25", "3.0", "3.75", "4.5", ""]
    forced = runner.invoke(app, ["score", str(short), "-m", "fan-small", "--json", "--timeline"])
    assert len(json.loads(forced.stdout)["files"][0]["timeline"]["windows"]) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--timeline", "--whole"], "not both"),
        (["--hop", "0"], "hop must be a positive"),
        (["--hop", "nan"], "hop must be a positive"),
        (["--precision", "fp16"], "Unknown precision"),
    ],
)
def test_timeline_usage_errors(runner, installed_bundle, synth22, options, message):
    wav = sorted(_test_folder(synth22).glob("*.wav"))[0]
    result = runner.invoke(app, ["score", str(wav), "-m", "fan-small", *options])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_the_precision_reaches_the_networks(runner, installed_bundle, synth22):
    from aegan.model.precision import bf16_is_fast

    wav = str(sorted(_test_folder(synth22).glob("*.wav"))[0])
    runs = {
        p: runner.invoke(app, ["score", wav, "-m", "fan-small", "--json", "--gpu", "cpu",
                               "--precision", p])
        for p in ("fp32", "bf16")
    }  # fmt: skip
    fp32 = json.loads(runs["fp32"].stdout)["files"][0]["score"]
    if not bf16_is_fast("cpu"):  # refused rather than emulated a hundred times slower
        assert runs["bf16"].exit_code == 2 and "no bf16 arithmetic" in runs["bf16"].output
        return
    bf16 = json.loads(runs["bf16"].stdout)["files"][0]["score"]
    # bf16 really rounds; a few roundings (2**-8 each) through 4-5 layers: a few per cent at most
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, rel=0.05)
