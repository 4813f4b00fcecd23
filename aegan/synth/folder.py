"""A synthetic own data set: one machine's recordings with arbitrary names in a plain folder.

What a user with a microphone on a machine of their own has
(``aegan.owndata.folder``): ``train/`` of normal recordings named by place and
time (``line3_2026-11-02_0815.wav``), in mixed formats (sample rates,
channels, WAV and FLAC), and optionally ``test/normal/`` and
``test/anomaly/``. The sound is ``aegan.synth.sound``'s: one machine, one
operating condition; anomalies as in the DCASE-format data sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.paths import atomic_path
from aegan.synth.sound import ANOMALY_KINDS, synthesize_pcm16

FORMATS = ((16000, 1, "wav"), (44100, 2, "wav"), (22050, 1, "flac"))
"""(sample rate, channels, container) the recordings cycle through: any format aegan reads."""


@dataclass(frozen=True)
class OwnSpec:
    """What to write: counts per folder, clip length, the machine's voice and the seed."""

    machine: str = "line3"
    train: int = 12
    test_normal: int = 4
    test_anomaly: int = 4
    seconds: float = 3.0
    seed: int = 0
    anomaly_strength: float = 1.0


def recording_name(machine: str, index: int, start: datetime = datetime(2026, 11, 2, 8, 15)) -> str:
    """``line3_2026-11-02_0815``: a place and a time, nothing DCASE would parse."""
    return f"{machine}_{(start + timedelta(minutes=37 * index)):%Y-%m-%d_%H%M}"


def _write(path: Path, samples: np.ndarray, rate: int, channels: int) -> None:
    data = samples if channels == 1 else np.stack([samples, (samples * 0.9).astype(np.int16)], 1)
    with atomic_path(path, suffix=path.suffix) as tmp:
        sf.write(tmp, data, rate, subtype="PCM_16", format=path.suffix[1:].upper())


def write_own_folder(root: Path | str, spec: OwnSpec = OwnSpec()) -> list[Path]:
    """Write the folder ``spec`` describes under ``root``; the same spec gives the same bytes."""
    root = Path(root)
    plan = [("train", None)] * spec.train + [("test/normal", None)] * spec.test_normal
    plan += [("test/anomaly", ANOMALY_KINDS[i % len(ANOMALY_KINDS)])
             for i in range(spec.test_anomaly)]  # fmt: skip
    written = []
    for index, (folder, kind) in enumerate(plan):
        rate, channels, container = FORMATS[index % len(FORMATS)]
        rng = np.random.default_rng([spec.seed, index])
        samples = synthesize_pcm16(
            spec.machine, "00", 0, kind, rng, int(spec.seconds * rate), rate, spec.anomaly_strength
        )
        path = root / folder / f"{recording_name(spec.machine, index)}.{container}"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, samples, rate, channels)
        written.append(path)
    return written
