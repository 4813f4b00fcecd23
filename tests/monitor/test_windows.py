"""A stream's windows are the timeline's windows, whatever the chunks it arrives in."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.features.stream import window_starts
from aegan.monitor.quality import Quality
from aegan.monitor.windows import StreamWindows


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 400), length=st.integers(1, 60), hop=st.integers(1, 70),
    chunks=st.lists(st.integers(1, 90), min_size=1, max_size=20), channels=st.integers(1, 3),
)  # fmt: skip
def test_stream_windows_are_the_planned_windows_with_their_samples(
    total, length, hop, chunks, channels
):
    frames = np.random.default_rng(total).standard_normal((total, channels)).astype(np.float32)
    windows = StreamWindows(1, length, hop)
    got, at = [], 0
    while at < total:
        size = chunks[len(got) % len(chunks)]
        got.extend(windows.feed(frames[at : at + size]))
        at += size
    last = windows.finish()
    got += [last] if last is not None else []
    expected = [] if total < length else list(window_starts(0, total, length, hop))
    assert [w.first for w in got] == expected
    for w in got:
        np.testing.assert_array_equal(w.mono, frames[w.first : w.first + length].mean(axis=1)
                                      if channels > 1 else frames[w.first : w.first + length, 0])  # fmt: skip
    assert len(windows.buffer) <= length + max(chunks) + hop  # only what the next window needs


def test_quality_names_silence_clipping_and_dropouts_and_passes_machine_sound():
    rng = np.random.default_rng(0)
    sound = (0.3 * np.sin(np.arange(16000) / 3) + 0.05 * rng.standard_normal(16000)).astype(
        np.float32
    )
    quality = Quality()
    assert quality.problem(sound, 16000) is None
    assert "digital silence" in quality.problem(np.zeros(16000, np.float32), 16000)
    assert "silence (RMS" in quality.problem(sound * 1e-5, 16000)
    clipped = np.clip(sound * 10, -1, 1)
    assert "clipped" in quality.problem(clipped, 16000)
    gappy = sound.copy()
    gappy[4000:6000] = 0.0  # 12.5% lost packets
    assert "dropouts" in quality.problem(gappy, 16000)
    nan = sound.copy()
    nan[5] = np.nan
    assert "NaN" in quality.problem(nan, 16000)
