"""Streams: a recorded stream scores bit for bit as `aegan score --timeline` scores the file."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from aegan.monitor.events import WindowScored
from aegan.monitor.monitor import Monitor
from aegan.monitor.sinks.eventlog import read_events
from aegan.monitor.spec import PcmFormat, Sinks, SourceSpec
from tests.monitor.conftest import machine_sound


def watch_stream(detector, data: bytes, tmp_path, pcm=None, hop=None):
    spec = SourceSpec("line", "stream", "rec", "fan-small", hop=hop, pcm=pcm,
                      stream=io.BytesIO(data), sinks=Sinks(folder=tmp_path / "out"))  # fmt: skip
    events = []
    monitor = Monitor([spec], detectors={"fan-small": detector}, heartbeat=0)
    monitor.subscribe(events.append)
    monitor.run()
    return events


@pytest.mark.parametrize(
    ("rate", "channels", "subtype", "hop"),
    [(16000, 1, "PCM_16", 0.7), (44100, 2, "PCM_16", None), (16000, 1, "FLOAT", 1.0)],
)
def test_a_recorded_wav_stream_scores_bit_for_bit_as_the_timeline(
    small_detector, tmp_path, rate, channels, subtype, hop
):
    wave = machine_sound(5.3, rate)
    data = np.stack([wave, wave[::-1]], axis=1) if channels == 2 else wave
    path = tmp_path / "rec.wav"
    sf.write(str(path), data, rate, subtype=subtype)
    timeline = small_detector.timeline(path, hop=hop)
    events = watch_stream(small_detector, path.read_bytes(), tmp_path, hop=hop)
    windows = [e for e in events if isinstance(e, WindowScored)]
    assert [w.place.offset for w in windows] == pytest.approx([w.start for w in timeline.windows])
    assert [w.score for w in windows] == [w.score for w in timeline.windows]  # bit for bit
    assert [w.anomalous for w in windows] == [w.anomalous for w in timeline.windows]
    assert events[-1].kind == "source_ended" and events[-1].reason == "ended"


def test_raw_pcm_streams_decode_as_the_same_samples_in_a_wav(small_detector, tmp_path):
    wave = machine_sound(4.0)
    path = tmp_path / "rec.wav"
    sf.write(str(path), wave, 16000, subtype="PCM_32")
    raw = sf.read(str(path), dtype="int32")[0].astype("<i4").tobytes()
    events = watch_stream(small_detector, raw, tmp_path, pcm=PcmFormat("s32le", 16000, 1))
    scores = [e.score for e in events if isinstance(e, WindowScored)]
    assert scores == [w.score for w in small_detector.timeline(path).windows]


def test_a_stream_shorter_than_a_window_is_an_error_event_and_ends(small_detector, tmp_path):
    raw = (machine_sound(0.5) * 32767).astype("<i2").tobytes()
    events = watch_stream(small_detector, raw, tmp_path, pcm=PcmFormat("s16le", 16000, 1))
    kinds = [e.kind for e in events]
    assert kinds == ["source_started", "error", "source_ended"]
    assert "ended after 0.50 s, before one window (1.5 s)" in events[1].message


def test_pcm_piped_into_aegan_watch_gives_json_lines_and_a_log(installed_bundle, tmp_path):
    """A real pipe: a subprocess writes PCM into `aegan watch -` in chunks, then closes it."""
    wave = machine_sound(6.0)
    pcm = (wave * 32767).astype("<i2").tobytes()
    command = [sys.executable, "-m", "aegan", "watch", "-", "--model", "fan-small", "--gpu",
               "cpu", "--format", "s16le", "--rate", "16000", "--channels", "1", "--heartbeat",
               "0", "--events", str(tmp_path / "log.jsonl"), "--out", str(tmp_path / "out")]  # fmt: skip
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        try:
            for begin in range(0, len(pcm), 32000):
                proc.stdin.write(pcm[begin : begin + 32000])
                proc.stdin.flush()
            proc.stdin.close()
            out = proc.stdout.read().decode()
            assert proc.wait(120) == 0
        finally:
            proc.kill()
    lines = [json.loads(line) for line in out.splitlines()]
    windows = [e for e in lines if e["event"] == "window"]
    assert [w["place"]["offset"] for w in windows] == [0.0, 1.5, 3.0, 4.5]
    assert [e.to_dict() for e in read_events(tmp_path / "log.jsonl")] == lines
    assert (tmp_path / "out" / "stdin" / "state.json").exists()
