"""`aegan score --out`: parts per chunk, one row per window, resume, serial and on a LocalCluster."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from aegan.cli import app
from aegan.detector.detector import Detector
from aegan.errors import UsageError
from aegan.fleet.batch import FleetInterrupted, score_fleet
from aegan.fleet.chunks import ScoreSettings
from aegan.fleet.engine import Engine
from aegan.fleet.inputs import Entry, gather_entries
from aegan.fleet.parts import read_rows

WINDOWS = 4 * 4 + 1 + 1  # four 6-s timelines of 1.5-s windows, one clip, one broken file


def sorted_rows(table):
    return sorted(table.to_pylist(), key=lambda r: (r["file"], r["start"] or 0.0))


@pytest.fixture
def entries(recordings, installed_bundle):
    return gather_entries([str(recordings)], "fan-small", None)


def test_every_window_is_one_row_and_a_broken_file_one_error_row(entries, tmp_path):
    run = score_fleet(entries, tmp_path / "out", files_per_chunk=2)
    rows = read_rows(list(run.parts))
    assert len(run.parts) == 3 and all(p.is_file() for p in run.parts)
    assert rows.num_rows == WINDOWS == run.totals.windows
    broken = rows.filter(pc.ends_with(rows["file"], "broken.wav")).to_pylist()
    assert len(broken) == 1 and "Format not recognised" in broken[0]["error"]
    assert broken[0]["score"] is None and broken[0]["decision"] is None
    assert run.totals.files == 6 and run.totals.unreadable_files == 1
    assert run.totals.audio_seconds == pytest.approx(4 * 6.0 + 1.5)
    assert set(rows["model"].to_pylist()) == {"fan-small"}
    assert len(set(rows["model_hash"].to_pylist())) == 1
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left
    assert pq.read_table(tmp_path / "out").num_rows == WINDOWS  # the folder reads as one table


def test_windows_are_those_of_score_timeline(entries, recordings, tmp_path, runner):
    long_file = recordings / "long1.wav"
    run = score_fleet(entries, tmp_path / "out", ScoreSettings(hop=1.0))
    table = read_rows(list(run.parts))
    mine = table.filter(pc.equal(table["file"], str(long_file))).to_pylist()
    shown = runner.invoke(
        app, ["score", str(long_file), "-m", "fan-small", "--timeline", "--hop", "1", "--json"]
    )
    windows = json.loads(shown.stdout)["files"][0]["timeline"]["windows"]
    assert [(r["start"], r["end"], r["score"], r["decision"]) for r in mine] == [
        (w["start"], w["end"], w["score"], w["decision"]) for w in windows
    ]
    assert mine[0]["threshold"] == Detector.load("fan-small").threshold()


def test_a_rerun_after_ctrl_c_resumes_without_losing_or_repeating_a_row(entries, tmp_path):
    reference = sorted_rows(read_rows(list(score_fleet(entries, tmp_path / "ref").parts)))
    seen = []

    def interrupt_after_two(task, done, total):
        seen.append(done)
        if done == 2:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(FleetInterrupted, match="2 of 6 parts"):
        score_fleet(entries, out, files_per_chunk=1, progress=interrupt_after_two)
    assert len(list(out.glob("part-*"))) == 2
    resumed = score_fleet(entries, out, files_per_chunk=1)
    assert (resumed.skipped, resumed.written) == (2, 4)
    assert sorted_rows(read_rows(list(resumed.parts))) == reference
    again = score_fleet(entries, out, files_per_chunk=1)
    assert (again.skipped, again.written, again.totals) == (6, 0, resumed.totals)


def test_each_model_is_loaded_once_per_process(entries, tmp_path, monkeypatch):
    from aegan.fleet import worker

    monkeypatch.setattr(worker, "_detectors", {})
    loads = []
    real = Detector.load_file.__func__
    monkeypatch.setattr(
        Detector,
        "load_file",
        classmethod(lambda cls, *a, **k: loads.append(a) or real(cls, *a, **k)),
    )
    score_fleet(entries, tmp_path / "out", files_per_chunk=1)
    assert len(loads) == 1


def test_a_folder_of_other_inputs_is_refused(entries, tmp_path):
    out = tmp_path / "out"
    score_fleet(entries[:2], out)
    with pytest.raises(UsageError, match="holds the results of other inputs"):
        score_fleet(entries, out)
    with pytest.raises(UsageError, match="holds the results of other inputs"):
        score_fleet(entries[:2], out, settings=ScoreSettings(hop=1.0))


def test_a_local_cluster_of_two_processes_gives_the_serial_rows(entries, tmp_path):
    serial = score_fleet(entries, tmp_path / "serial", files_per_chunk=1)
    spread = score_fleet(entries, tmp_path / "spread", files_per_chunk=1, engine=Engine(workers=2))
    assert spread.engine == "a local cluster of 2 workers x 1 thread"
    assert [p.name for p in spread.parts] == [p.name for p in serial.parts]
    assert sorted_rows(read_rows(list(spread.parts))) == sorted_rows(read_rows(list(serial.parts)))


def test_manifest_rows_carry_their_model_and_source(recordings, installed_bundle, tmp_path):
    manifest = tmp_path / "files.csv"
    manifest.write_text(
        "path,model,source\nrecordings/long0.wav,,mic-a\nrecordings/clip.wav,fan-small,mic-b\n"
        "recordings/missing.wav,,mic-c\n"
    )
    listed = gather_entries([], "fan-small", manifest)
    assert listed[0] == Entry(recordings / "long0.wav", "fan-small", "mic-a")
    table = read_rows(list(score_fleet(listed, tmp_path / "out", fmt="csv").parts))
    by_source = {}
    for row in table.to_pylist():
        by_source.setdefault(row["source"], []).append(row)
    assert [len(by_source[s]) for s in ("mic-a", "mic-b", "mic-c")] == [4, 1, 1]
    assert by_source["mic-c"][0]["error"].startswith(f"{recordings / 'missing.wav'} does not exist")
