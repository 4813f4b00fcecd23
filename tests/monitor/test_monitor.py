"""The Monitor as a program embeds it: several sources, one model load, backlog, heartbeats."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from aegan.errors import DataError
from aegan.monitor.events import Dropped, Heartbeat, WindowScored
from aegan.monitor.monitor import Monitor
from aegan.monitor.plant import load_plant
from aegan.monitor.spec import PcmFormat, Sinks, SourceSpec
from tests.monitor.conftest import machine_sound

PUSH = PcmFormat("f32le", 16000, 1)


def push_spec(name, tmp_path, **changes):
    return SourceSpec(name, "push", "program", "fan-small", pcm=PUSH,
                      sinks=Sinks(folder=tmp_path / name), **changes)  # fmt: skip


def until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


class HoldFirstWindow:
    """A subscriber that keeps the scorer busy on the first window until released, as a slow
    model would: audio arriving meanwhile waits (or is dropped beyond the backlog bound)."""

    def __init__(self):
        self.release, self.held, self.events = threading.Event(), threading.Event(), []

    def __call__(self, event):
        self.events.append(event)
        if isinstance(event, WindowScored) and not self.held.is_set():
            self.held.set()
            self.release.wait(30)


def test_beyond_the_backlog_bound_the_oldest_audio_is_dropped_and_reported(
    small_detector, tmp_path
):
    hold = HoldFirstWindow()
    monitor = Monitor([push_spec("mic", tmp_path, max_backlog=3.0)],
                      detectors={"fan-small": small_detector}, heartbeat=0)  # fmt: skip
    monitor.subscribe(hold)
    monitor.start()
    try:
        monitor.push("mic", machine_sound(1.5))
        until(hold.held.is_set)
        monitor.push("mic", machine_sound(30.0, seed=1))  # 20 windows while scoring is stuck
        time.sleep(0.5)
        hold.release.set()
        monitor.end("mic")
        assert monitor.wait(60)
    finally:
        monitor.stop()
    windows = [e for e in hold.events if isinstance(e, WindowScored)]
    dropped = [e for e in hold.events if isinstance(e, Dropped)]
    assert len(dropped) == 1 and dropped[0].reason == "backlog"
    assert len(windows) + dropped[0].windows == 1 + 20  # nothing dropped silently
    assert len(windows) == 1 + 2  # what the 3-s bound holds: two 1.5-s windows
    assert dropped[0].seconds == 18 * 1.5
    assert windows[-1].place.offset == 30.0 and windows[1].place.offset == 28.5  # newest kept


def test_sources_of_one_model_load_it_once_and_share_its_batches(small_detector, tmp_path):
    loads, calls = [], []
    score = small_detector.score_spectrograms

    def counting(spectrograms, **kw):
        calls.append(len(spectrograms))
        return score(spectrograms, **kw)

    def loader(name):
        loads.append(name)
        return small_detector

    hold = HoldFirstWindow()
    specs = [push_spec(n, tmp_path) for n in ("a", "b", "c")]
    monitor = Monitor(specs, loader=loader, heartbeat=0)
    monitor.subscribe(hold)
    small_detector.score_spectrograms = counting
    try:
        monitor.start()
        monitor.push("a", machine_sound(1.5))
        until(hold.held.is_set)
        for name in "abc":
            monitor.push(name, machine_sound(6.0, seed=ord(name)))
        until(lambda: sum(len(r.pending) for r in monitor.runtimes.values()) == 12)
        hold.release.set()
        for name in "abc":
            monitor.end(name)
        assert monitor.wait(60)
    finally:
        monitor.stop()
        del small_detector.score_spectrograms
    assert loads == ["fan-small"]
    assert calls == [1, 12]  # the windows of three sources in one network batch
    assert [len(monitor.recent(n)) for n in "abc"] == [5, 4, 4]
    assert {s.name: s.windows_scored for s in monitor.status()} == {"a": 5, "b": 4, "c": 4}
    assert {s.state for s in monitor.status()} == {"ended"}


def test_heartbeats_give_windows_scored_backlog_and_the_real_time_factor(small_detector, tmp_path):
    events = []
    monitor = Monitor([push_spec("mic", tmp_path)], detectors={"fan-small": small_detector},
                      heartbeat=0.2)  # fmt: skip
    monitor.subscribe(events.append)
    monitor.start()
    try:
        monitor.push("mic", machine_sound(6.0))
        until(lambda: sum(isinstance(e, WindowScored) for e in events) == 4)
        until(lambda: isinstance(events[-1], Heartbeat) and events[-1].windows_scored == 4)
    finally:
        monitor.stop()
    beats = [e for e in events if isinstance(e, Heartbeat)]
    assert beats[-1].backlog_seconds == 0 and beats[-1].dropped_seconds == 0
    assert any(b.realtime_factor and b.realtime_factor > 1 for b in beats)  # tiny model: fast


def test_a_plant_file_describes_each_source_with_its_model_rule_and_sinks(tmp_path):
    (tmp_path / "plant.yaml").write_text(
        "heartbeat: 5\n"
        "defaults: {model: fan22, alert: 2/4}\n"
        "sources:\n"
        "  - {name: pump-1, folder: /data/p1, hop: 5, webhook: 'http://127.0.0.1:9/x'}\n"
        "  - {name: line-2, stream: '-', format: s16le, rate: 8000, model: valve22, clear: 7}\n"
        "  - {name: mic, device: USB, out: /var/aegan/mic, snippets: false}\n"
    )
    plant = load_plant(tmp_path / "plant.yaml")
    pump, line, mic = plant.sources
    assert plant.heartbeat == 5.0
    assert (pump.kind, pump.target, pump.model, pump.hop) == ("folder", "/data/p1", "fan22", 5.0)
    assert pump.sinks.webhook == "http://127.0.0.1:9/x" and str(pump.rule) == "2/4, clear 4"
    assert (line.model, line.pcm, str(line.rule)) == ("valve22", PcmFormat("s16le", 8000, 1),
                                                       "2/4, clear 7")  # fmt: skip
    assert mic.kind == "device" and not mic.sinks.snippets and str(mic.folder) == "/var/aegan/mic"


def test_pushed_samples_of_the_wrong_shape_are_refused(small_detector, tmp_path):
    monitor = Monitor([push_spec("mic", tmp_path)], detectors={"fan-small": small_detector},
                      heartbeat=0)  # fmt: skip
    monitor.start()
    try:
        with pytest.raises(DataError, match=r"do not fit source 'mic' \(1 channels\)"):
            monitor.push("mic", np.zeros((10, 2), np.float32))
    finally:
        monitor.stop()
