"""What `aegan watch` shows on a terminal: per source its last score, state and alerts today."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Console

from aegan.cli.watch_render import _note, _view
from aegan.monitor.alerts import AlertRule
from aegan.monitor.monitor import Monitor
from aegan.monitor.spec import PcmFormat, Sinks, SourceSpec
from tests.monitor.conftest import ANOMALY_HZ, machine_sound


def test_the_live_view_shows_each_source_and_an_open_alert(small_detector, tmp_path):
    specs = [
        SourceSpec(name, "push", "program", "fan-small", pcm=PcmFormat("f32le", 16000, 1),
                   rule=AlertRule(2, 3, 3), sinks=Sinks(folder=tmp_path / name))
        for name in ("pump", "fan")
    ]  # fmt: skip
    notes: deque[str] = deque(maxlen=8)
    monitor = Monitor(specs, detectors={"fan-small": small_detector}, heartbeat=0)
    monitor.subscribe(lambda e: _note(notes, e))
    monitor.start()
    try:
        monitor.push("pump", machine_sound(4.5, freq=ANOMALY_HZ))
        monitor.push("fan", machine_sound(1.5))
        deadline = time.monotonic() + 60
        while sum(s.windows_scored for s in monitor.status()) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        console = Console(record=True, width=160, color_system=None)
        console.print(_view(monitor, notes))
    finally:
        monitor.stop()
    text = console.export_text()
    pump = next(line for line in text.splitlines() if line.startswith("│ pump"))
    fan = next(line for line in text.splitlines() if line.startswith("│ fan"))
    assert "ALERT" in pump and " 3 " in pump and " 1 " in pump  # 3 windows, 1 alert today
    assert "normal" in fan and "ALERT" not in fan
    assert "pump: ALERT 1 opened from" in text
