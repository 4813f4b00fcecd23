"""The event log survives a crash mid-line; window scores rotate by day; snippets keep a cap."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from aegan.monitor.events import Error, Heartbeat, WindowPlace, WindowScored
from aegan.monitor.sinks.eventlog import EventLog, read_event_dicts, read_events
from aegan.monitor.sinks.scores import ScoreTable
from aegan.monitor.sinks.snippets import Snippets, stitch


def window(seq: int, day: str = "2026-12-04") -> WindowScored:
    place = WindowPlace("a.wav", seq * 1.5, f"{day}T10:00:0{seq}.000Z", f"{day}T10:00:0{seq}.500Z")
    return WindowScored("pump", seq, place, 0.1 * seq + 1 / 3, 0.33, seq > 2)


def test_a_line_cut_mid_write_is_skipped_and_the_log_goes_on_after_it(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    for seq in range(3):
        log.write(window(seq))
    log.close()
    whole = path.read_bytes()
    with open(path, "r+b") as fh:  # a crash in the middle of the third line
        fh.truncate(len(whole) - 40)
    assert [e.seq for e in read_events(path)] == [0, 1]  # the cut line never breaks a reader
    log = EventLog(path)  # restart: the partial line is ended, the next event has its own
    log.write(Heartbeat("pump", 2, 0.0, 1.5, 0.0))
    log.close()
    kinds = [d["event"] for d in read_event_dicts(path)]
    assert kinds == ["window", "window", "heartbeat"]
    assert path.read_bytes().endswith(b"\n") and path.read_bytes().count(b"\n") == 4


def test_every_event_is_one_whole_line_on_disk_as_soon_as_it_is_written(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    try:
        event = Error("pump", "a message\nwith a newline", "x.wav", "a hint")
        log.write(event)
        assert path.read_text().count("\n") == 1  # flushed: no buffer in between
        assert read_events(path) == [event]
    finally:
        log.close()


def test_window_scores_go_to_one_csv_a_day_and_its_parquet_copy(tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = ScoreTable(tmp_path)
    rows = [window(0), window(1), window(2, "2026-12-05"), window(3, "2026-12-05")]
    for row in rows:
        table.add(row)
    table.close()
    days = sorted(p.name for p in tmp_path.iterdir())
    assert days == ["scores-2026-12-04.csv", "scores-2026-12-04.parquet",
                    "scores-2026-12-05.csv", "scores-2026-12-05.parquet"]  # fmt: skip
    second = pq.read_table(tmp_path / "scores-2026-12-05.parquet").to_pylist()
    assert [r["score"] for r in second] == [rows[2].score, rows[3].score]  # exact floats
    assert [r["anomalous"] for r in second] == [False, True]
    again = ScoreTable(tmp_path)  # a restart appends to the day's CSV, under one header
    again.add(window(4, "2026-12-05"))
    again.close()
    assert (tmp_path / "scores-2026-12-05.csv").read_text().count("seq,") == 1
    assert pq.read_table(tmp_path / "scores-2026-12-05.parquet").num_rows == 3


def test_overlapping_windows_are_stitched_into_the_original_audio():
    rate, audio = 10, np.arange(100, dtype=np.float32)
    items = [(i, "a.wav", i * 0.5, audio[i * 5 : i * 5 + 20]) for i in range(17)]
    items.append((17, "b.wav", 0.0, audio[:20]))
    np.testing.assert_array_equal(stitch(items, rate), np.r_[audio, audio[:20]])


def test_snippets_hold_pre_roll_episode_post_roll_and_the_folder_keeps_under_its_cap(tmp_path):
    rate = 1000
    snippets = Snippets(tmp_path, rate, hop=1.0, look_back=5, pre_roll=2.0, post_roll=1.0,
                        max_mb=0.07)  # fmt: skip
    paths = []
    for episode in range(3):
        base = episode * 100
        for seq in range(base, base + 20):
            snippets.window(seq, None, float(seq), np.full(rate, seq, np.float32))
            if seq == base + 10:
                snippets.opened(base + 8)
        paths.append(snippets.closed("pump", episode + 1, base + 12, "2026-12-04T10:00:00.000Z"))
        os.utime(paths[-1], (episode, episode))
    samples = sf.read(paths[-1], dtype="float32")[0]
    assert sorted(set(samples.tolist())) == list(range(206, 214))  # 2 before, 8..12, 1 after
    assert [os.path.exists(p) for p in paths] == [False, True, True]  # 3 x 32 kB > 70 kB
