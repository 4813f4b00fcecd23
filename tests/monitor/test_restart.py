"""kill -9 in the middle of a run, restart: no file of the folder is missed or scored twice."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time

import pytest

from aegan.monitor.sinks.eventlog import read_event_dicts
from tests.monitor.conftest import machine_sound, write_pcm16

FILES, WINDOWS_PER_FILE = 12, 4


def windows_logged(log):
    if not log.exists():
        return []
    return [e for e in read_event_dicts(log) if e["event"] == "window"]


def watch(folder, out, *extra):
    command = [sys.executable, "-m", "aegan", "watch", str(folder), "--model", "fan-small",
               "--gpu", "cpu", "--out", str(out), "--settle", "0.2", "--heartbeat", "0",
               "--hop", "1.5", *extra]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until(proc, condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.slow
def test_killed_mid_run_and_restarted_every_window_is_logged_exactly_once(
    installed_bundle, tmp_path
):
    folder, out = tmp_path / "rec", tmp_path / "out"
    for i in range(FILES):
        write_pcm16(folder / f"{i:02d}.wav", machine_sound(1.5 * WINDOWS_PER_FILE, seed=i))
    log = out / "rec" / "events.jsonl"
    first = watch(folder, out, "--from-start")
    try:
        wait_until(first, lambda: len(windows_logged(log)) >= 5)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    before = len(windows_logged(log))
    assert 5 <= before < FILES * WINDOWS_PER_FILE
    second = watch(folder, out)  # no --from-start: the state knows what is done
    try:
        wait_until(second, lambda: len(windows_logged(log)) >= FILES * WINDOWS_PER_FILE)
        time.sleep(1.0)  # anything scored twice would show up now
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0  # finishes the batch in hand, flushes, exits 0
    finally:
        second.kill()
    windows = windows_logged(log)
    places = collections.Counter((w["place"]["file"], w["place"]["offset"]) for w in windows)
    expected = {(f"{i:02d}.wav", 1.5 * k) for i in range(FILES) for k in range(WINDOWS_PER_FILE)}
    assert set(places) == expected and set(places.values()) == {1}
    assert [w["seq"] for w in windows] == list(range(len(windows)))
    ended = [e for e in read_event_dicts(log) if e["event"] == "source_ended"]
    assert [e["reason"] for e in ended] == ["stopped"]  # the killed run could not say it
