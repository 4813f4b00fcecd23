"""Shared fixtures: every test runs with its own AEGAN_HOME, never the user's."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner


@pytest.fixture(autouse=True)
def aegan_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("aegan_home")
    monkeypatch.setenv("AEGAN_HOME", str(home))
    return home


@pytest.fixture
def runner(monkeypatch):
    """Typer's test runner with a terminal wide enough that rich does not squeeze tables."""
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def write_tone(path, seconds=2.0, sample_rate=16000, freq=440.0, channels=1, seed=0):
    """A tone plus noise as 16-bit PCM, the format DCASE ships."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sample_rate, subtype="PCM_16")
    return path
