"""A folder a recorder fills: each complete file scored once, in order; alerts across files."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import soundfile as sf

from aegan.monitor.alerts import AlertRule
from aegan.monitor.events import AlertClosed, AlertOpened, Error, WindowScored
from aegan.monitor.monitor import Monitor
from aegan.monitor.sinks.eventlog import read_events
from aegan.monitor.spec import Sinks, SourceSpec
from tests.monitor.conftest import ANOMALY_HZ, machine_sound, write_pcm16


def folder_spec(folder, out, **changes):
    values = {"settle": 0.4, "sinks": Sinks(folder=out), "rule": AlertRule(3, 5, 5), **changes}
    return SourceSpec("pump", "folder", str(folder), "fan-small", **values)


class Watching:
    """A started monitor and the events it emitted; stopped on leaving."""

    def __init__(self, detector, *specs):
        self.events = []
        self.monitor = Monitor(list(specs), detectors={"fan-small": detector}, heartbeat=0)
        self.monitor.subscribe(self.events.append)

    def __enter__(self):
        self.monitor.start()
        return self

    def __exit__(self, *exc):
        self.monitor.stop()

    def windows(self):
        return [e for e in self.events if isinstance(e, WindowScored)]

    def wait_for(self, count, kind=WindowScored, timeout=60.0):
        deadline = time.monotonic() + timeout
        while sum(isinstance(e, kind) for e in self.events) < count:
            assert time.monotonic() < deadline, [e.kind for e in self.events]
            time.sleep(0.05)


def slow_writer(folder, plan, pause=0.15):
    """Writes each (name, wave) in two halves with a pause (a recorder at work); some files
    are written under a temporary name and renamed, one lands in a subfolder."""

    def write():
        for i, (name, wave) in enumerate(plan):
            final = folder / name
            final.parent.mkdir(parents=True, exist_ok=True)
            target = final.with_name(final.name + ".part") if i % 2 else final
            with sf.SoundFile(str(target), "w", 16000, 1, "PCM_16", format="WAV") as fh:
                fh.write(wave[: wave.size // 2])
                fh.flush()
                time.sleep(pause)
                fh.write(wave[wave.size // 2 :])
            if target != final:
                os.rename(target, final)
            time.sleep(pause)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_one_anomalous_recording_among_normal_ones_opens_one_alert_and_closes_it(
    small_detector, tmp_path
):
    folder, out = tmp_path / "rec", tmp_path / "out"
    folder.mkdir()
    plan = [(f"n{i}.wav", machine_sound(4.5, seed=i)) for i in range(3)]
    plan.append(("day2/fault.wav", machine_sound(6.0, freq=ANOMALY_HZ)))
    plan += [(f"z{i}.wav", machine_sound(4.5, seed=9 + i)) for i in range(3)]
    with Watching(small_detector, folder_spec(folder, out)) as watching:
        writer = slow_writer(folder, plan)
        watching.wait_for(3 * 3 + 4 + 3 * 3)
        writer.join()
    windows = watching.windows()
    assert [w.place.file for w in windows] == [
        n for n, _ in plan for _ in range(3 if n[0] != "d" else 4)
    ]
    assert [w.anomalous for w in windows] == [False] * 9 + [True] * 4 + [False] * 9
    alerts = [e for e in watching.events if isinstance(e, (AlertOpened, AlertClosed))]
    assert [type(a) for a in alerts] == [AlertOpened, AlertClosed]
    opened, closed = alerts
    assert opened.start == closed.start == windows[9].place.start
    assert closed.end == windows[12].place.end
    assert closed.anomalous_windows == closed.windows == 4
    assert closed.worst.score == max(w.score for w in windows[9:13])
    assert closed.worst.place.file == "day2/fault.wav"
    assert not [e for e in watching.events if isinstance(e, Error)]  # never read half-written
    assert sf.info(closed.snippet).duration > 6.0  # pre-roll + the fault + post-roll
    logged = read_events(out / "events.jsonl")
    assert [e.to_dict() for e in logged] == [e.to_dict() for e in watching.events]
    csv_rows = (out / "scores").glob("scores-*.csv")
    assert sum(len(p.read_text().splitlines()) - 1 for p in csv_rows) == len(windows)


def test_files_already_there_are_skipped_unless_from_start(small_detector, tmp_path):
    folder = tmp_path / "rec"
    write_pcm16(folder / "old.wav", machine_sound(3.0))
    with Watching(small_detector, folder_spec(folder, tmp_path / "a")) as watching:
        time.sleep(0.8)
        write_pcm16(folder / "new.wav", machine_sound(3.0, seed=1))
        watching.wait_for(2)
        time.sleep(0.5)
    assert {w.place.file for w in watching.windows()} == {"new.wav"}
    with Watching(small_detector, folder_spec(folder, tmp_path / "b", from_start=True)) as w2:
        w2.wait_for(4)
    assert sorted({w.place.file for w in w2.windows()}) == ["new.wav", "old.wav"]


def test_a_restart_scores_what_arrived_meanwhile_and_nothing_twice(small_detector, tmp_path):
    folder, out = tmp_path / "rec", tmp_path / "out"
    folder.mkdir()
    with Watching(small_detector, folder_spec(folder, out)) as first:
        write_pcm16(folder / "a.wav", machine_sound(3.0))
        first.wait_for(2)
    write_pcm16(folder / "b.wav", machine_sound(3.0, seed=1))  # while stopped
    with Watching(small_detector, folder_spec(folder, out)) as second:
        second.wait_for(2)
        time.sleep(0.6)
    assert [w.place.file for w in second.windows()] == ["b.wav", "b.wav"]
    assert [w.seq for w in second.windows()] == [2, 3]  # the count goes on


def test_bad_removed_and_short_files_give_error_events_and_watching_goes_on(
    small_detector, tmp_path
):
    folder = tmp_path / "rec"
    folder.mkdir()
    with Watching(small_detector, folder_spec(folder, tmp_path / "out")) as watching:
        (folder / "notes.wav").write_text("not audio")
        write_pcm16(folder / "gone.wav", machine_sound(3.0)).unlink()
        write_pcm16(folder / "short.wav", machine_sound(0.2))
        write_pcm16(folder / "silent.wav", machine_sound(3.0) * 0)
        time.sleep(0.3)
        write_pcm16(folder / "good.wav", machine_sound(3.0))
        watching.wait_for(2)
        watching.wait_for(2, Error, timeout=10)
    errors = {e.file: e.message for e in watching.events if isinstance(e, Error)}
    assert "as audio" in errors["notes.wav"]
    assert "too short" in errors["short.wav"]
    unusable = [e for e in watching.events if e.kind == "unusable"]
    assert {e.place.file for e in unusable} == {"silent.wav"}
    assert "digital silence" in unusable[0].reason
    assert {w.place.file for w in watching.windows()} == {"good.wav"}


class Crash(Exception):
    """Stands for the process dying in the middle of a batch."""


def test_a_crash_in_the_middle_of_a_batch_repeats_no_window_and_loses_none(
    small_detector, tmp_path
):
    folder, out = tmp_path / "rec", tmp_path / "out"
    for i in range(3):
        write_pcm16(folder / f"{i}.wav", machine_sound(6.0, seed=i))
    spec = folder_spec(folder, out, from_start=True, settle=0.1)
    first = Monitor([spec], detectors={"fan-small": small_detector}, heartbeat=0)
    seen = []

    def crash_on_the_sixth(event):
        seen.append(event)
        if isinstance(event, WindowScored) and sum(isinstance(e, WindowScored) for e in seen) == 6:
            raise Crash

    first.subscribe(crash_on_the_sixth)
    first.start()
    try:
        with pytest.raises(Crash):
            first.wait(60)
    finally:
        first.stop()
    state = json.loads((out / "state.json").read_text())
    assert state["inflight"] is not None and state["seq"] < 6  # killed with a batch half out
    with Watching(small_detector, folder_spec(folder, out, settle=0.1)) as second:
        second.wait_for(12 - 6)
        time.sleep(0.5)
    logged = [e for e in read_events(out / "events.jsonl") if isinstance(e, WindowScored)]
    places = [(w.place.file, w.place.offset) for w in logged]
    assert sorted(places) == sorted({(f"{i}.wav", 1.5 * k) for i in range(3) for k in range(4)})
    assert [w.seq for w in logged] == list(range(12))
