"""Corpus cases: bad audio on a watched stream gives events, and watching goes on to the end.

Each case pipes bytes into `aegan watch -` (JSON lines on stdout) and expects exit
0, the event that names the problem, and the windows that could be scored.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from aegan.cli import app
from tests.monitor.conftest import machine_sound

WATCH = ["watch", "-", "--gpu", "cpu", "--model", "fan-small", "--heartbeat", "0"]
RAW = ["--format", "f32le", "--rate", "16000", "--channels", "1"]


def wav(wave: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, wave, rate, subtype=subtype, format="WAV")
    return out.getvalue()


def f32(wave: np.ndarray) -> bytes:
    return wave.astype("<f4").tobytes()


def with_nan() -> bytes:
    wave = machine_sound(4.5)
    wave[100] = np.nan
    return f32(wave)


def clipped_then_fine() -> bytes:
    return f32(np.r_[np.clip(machine_sound(1.5) * 20, -1, 1), machine_sound(3.0)])


def mu_law() -> bytes:
    out = io.BytesIO()
    sf.write(out, machine_sound(3.0), 16000, subtype="ULAW", format="WAV")
    return out.getvalue()


@dataclass(frozen=True)
class StreamCase:
    name: str
    argv: list[str]
    data: Callable[[], bytes]
    event: str  # the kind of event expected
    message: str  # a regex its text must match
    windows: int  # windows scored all the same


# fmt: off
CASES = [
    StreamCase("not WAV and no --format", WATCH, lambda: b"hello, not audio" * 100, "error",
               r"The stream is not WAV .*--format s16le\|s32le\|f32le", 0),
    StreamCase("a WAV of mu-law samples", WATCH, mu_law, "error",
               r"The WAV stream's samples cannot be read \(format 7, 8 bits\)", 0),
    StreamCase("a WAV cut inside its header", WATCH, lambda: wav(machine_sound(3.0))[:30],
               "error", r"The stream ended inside its WAV header", 0),
    StreamCase("a stream shorter than a window", [*WATCH, *RAW], lambda: f32(machine_sound(1.0)),
               "error", r"ended after 1\.00 s, before one window \(1\.5 s\) was complete", 0),
    StreamCase("a NaN sample", [*WATCH, *RAW], with_nan, "unusable",
               r"standard input from 0\.00 s to 1\.50 s is unusable: its samples include NaN", 2),
    StreamCase("clipping, then good audio", [*WATCH, *RAW], clipped_then_fine, "unusable",
               r"from 0\.00 s to 1\.50 s is unusable: .*% of its samples are clipped", 2),
    StreamCase("a cut last frame is left out", [*WATCH, *RAW],
               lambda: f32(machine_sound(3.0)) + b"\x00\x01", "source_ended", r"ended", 2),
    StreamCase("44.1 kHz stereo is mixed and resampled", WATCH,
               lambda: wav(np.stack([machine_sound(3.0, 44100)] * 2, axis=1), 44100),
               "source_ended", r"ended", 2),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_audio_on_a_stream_is_an_event_and_watching_goes_on(
    case, runner, installed_bundle, tmp_path
):
    argv = [*case.argv, "--out", str(tmp_path / "out")]
    result = runner.invoke(app, argv, input=case.data())
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    matching = [e for e in events if e["event"] == case.event]
    text = " ".join(f"{e.get('message') or e.get('reason')} {e.get('hint')}" for e in matching)
    assert re.search(case.message, text), events
    assert sum(e["event"] == "window" for e in events) == case.windows
    assert events[-1]["event"] == "source_ended"
