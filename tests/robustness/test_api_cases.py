"""Corpus cases of the Python API: what ``Detector`` and ``OnnxScorer`` are given by mistake.

Each case is a call, the exception (or warning) it must raise and a pattern of its message;
the message must stay short (the byte-per-recording answer of a 96-kB ``bytes`` was 9 MB).
The CLI cases (``corpus.py``) cannot reach these: only a Python caller passes bytes or tensors.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from aegan.detector.detector import Detector
from aegan.detector.waveforms import InputTypeError, SampleRateIgnoredWarning
from aegan.errors import AudioError, DataError, ModelError, UsageError
from aegan.features.audio import BandLimitedWarning, LoudSamplesWarning

MAX_MESSAGE = 2000
"""Characters an error may take: a sentence per item it lists (ten at most) and a hint."""

WAVE = (0.1 * np.sin(np.arange(32000) / 5.0)).astype(np.float32)


@dataclass(frozen=True)
class ApiCase:
    name: str
    call: Callable[[Any, Path], object]  # (detector or scorer, a folder with tone.wav)
    raises: type[BaseException]  # an exception, or a Warning the call must give
    message: str  # a regex the message must match
    target: str = "detector"  # or "scorer": the small bundle's ONNX export


def with_nan(wave: np.ndarray) -> np.ndarray:
    broken = wave.copy()
    broken[100] = np.nan
    return broken


DETECTOR_CASES = [
    ApiCase("bytes", lambda d, f: d.score((f / "tone.wav").read_bytes()), InputTypeError,
            r"Got \d+ bytes, not a recording: a recording is a file path, a NumPy array"),
    ApiCase("an open file", lambda d, f: d.score(io.BytesIO((f / "tone.wav").read_bytes())),
            InputTypeError, r"Got a _io\.BytesIO, not a recording"),
    ApiCase("a list of floats", lambda d, f: d.score(WAVE.tolist()), InputTypeError,
            r"Got a list of 32000 numbers; a list holds recordings"),
    ApiCase("a dict", lambda d, f: d.score({"x": WAVE}), InputTypeError, r"Got a dict"),
    ApiCase("a list of 500 wrong items", lambda d, f: d.score([{}] * 500), DataError,
            r"500 of 500 recordings cannot be scored:.*- and 490 more"),
    ApiCase("timeline of an array", lambda d, f: d.timeline(WAVE), InputTypeError,
            r"timeline\(\) reads a file window by window; got a numpy\.ndarray"),
    ApiCase("a file with sample_rate", lambda d, f: d.score(f / "tone.wav", sample_rate=8000),
            SampleRateIgnoredWarning,
            r"sample_rate=8000 applies to arrays only: \S+tone\.wav is read at its own 16000 Hz"),
    ApiCase("an array at 8 kHz", lambda d, f: d.score(WAVE, sample_rate=8000),
            BandLimitedWarning, r"The waveform was recorded at 8000 Hz, below the model's"),
    ApiCase("float samples of ±1e6", lambda d, f: d.score(WAVE * 1e7), DataError,
            r"The waveform is unusable: its samples exceed ±1 \(peak 1e\+06\)"),
    ApiCase("float samples peaking at 2", lambda d, f: d.score(WAVE * 20), LoudSamplesWarning,
            r"The waveform has samples beyond ±1 \(peak 2\)"),
    ApiCase("a timeline hop longer than a window",
            lambda d, f: d.timeline(f / "tone.wav", hop=2.0), UsageError,
            r"The hop \(2 s\) is longer than a window \(1\.50 s\)"),
]  # fmt: skip

SCORER_CASES = [
    ApiCase("NaN", lambda s, f: s.score_waveforms([with_nan(WAVE)]), DataError,
            r"Waveform 0 is unusable: its samples include NaN", "scorer"),
    ApiCase("(N, 2) samples", lambda s, f: s.score_waveforms([np.stack([WAVE, WAVE], 1)]),
            DataError, r"has shape \(32000, 2\); a recording is \(N,\) or \(channels, N\)",
            "scorer"),
    ApiCase("too short", lambda s, f: s.score_waveforms([WAVE[:100]]), AudioError,
            r"A recording of 1 frames is too short for \S+fan\.onnx", "scorer"),
    ApiCase("float samples of ±1e6", lambda s, f: s.score_waveforms([WAVE * 1e7]), DataError,
            r"its samples exceed ±1", "scorer"),
]  # fmt: skip


@pytest.fixture(scope="module")
def detector(small_bundle):
    return Detector.load(small_bundle)


@pytest.fixture(scope="module")
def exports(detector, small_bundle, tmp_path_factory):
    """The small bundle exported, and a second export of a slightly different model."""
    for extra in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(extra)
    from aegan.export.onnx_export import export_onnx

    folder = tmp_path_factory.mktemp("exports")
    mine = export_onnx(detector, folder / "fan.onnx")
    other = Detector.load(small_bundle)
    with torch.no_grad():
        next(other.generator.parameters()).add_(0.01)
    return mine, export_onnx(other, folder / "other" / "fan.onnx")


@pytest.fixture
def folder(tmp_path):
    sf.write(str(tmp_path / "tone.wav"), WAVE, 16000, subtype="FLOAT")
    return tmp_path


def check(case: ApiCase, target: Any, folder: Path) -> None:
    if issubclass(case.raises, Warning):
        with pytest.warns(case.raises) as caught:
            case.call(target, folder)
        text = " ".join(str(w.message) for w in caught if issubclass(w.category, case.raises))
    else:
        with pytest.raises(case.raises) as raised:
            case.call(target, folder)
        text = str(raised.value)
    assert len(text) < MAX_MESSAGE, text[:2000]
    assert re.search(case.message, " ".join(text.split())), text


@pytest.mark.parametrize("case", DETECTOR_CASES, ids=[c.name for c in DETECTOR_CASES])
def test_a_detector_mistake_gives_one_short_clear_answer(case, detector, folder):
    check(case, detector, folder)


@pytest.mark.parametrize("case", SCORER_CASES, ids=[c.name for c in SCORER_CASES])
def test_an_onnx_scorer_mistake_gives_one_short_clear_answer(case, exports, folder):
    from aegan.export.onnx_scorer import OnnxScorer

    check(case, OnnxScorer(exports[0].onnx), folder)


def test_a_torch_tensor_scores_as_its_array(detector):
    assert detector.score(torch.from_numpy(WAVE)) == detector.score(WAVE)


def test_the_onnx_scorer_scales_int16_as_the_detector_does(exports):
    from aegan.export.onnx_scorer import OnnxScorer

    scorer = OnnxScorer(exports[0].onnx)
    pcm = np.round(WAVE * 32767).astype(np.int16)
    np.testing.assert_array_equal(
        scorer.score_waveforms([pcm]), scorer.score_waveforms([pcm / np.float32(32768)])
    )


def test_the_onnx_scorer_refuses_the_sidecar_of_another_model(exports, tmp_path):
    from aegan.export.onnx_scorer import OnnxScorer

    mine, other = exports
    shutil.copy(mine.onnx, tmp_path / "mixed.onnx")
    shutil.copy(other.sidecar, tmp_path / "mixed.npz")
    with pytest.raises(ModelError, match=r"mixed\.onnx and \S+mixed\.npz are not of one model"):
        OnnxScorer(tmp_path / "mixed.onnx")
    each = [OnnxScorer(files.onnx).meta["digest"] for files in exports]  # each pair loads
    assert each[0] != each[1]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("onnx", r"Cannot load the ONNX graph \S+fan\.onnx"),
        ("npz", r"Cannot read \S+fan\.npz as the numbers of an aegan export"),
    ],
)
def test_the_onnx_scorer_names_a_damaged_file(exports, tmp_path, damage, message):
    from aegan.export.onnx_scorer import OnnxScorer

    mine, _ = exports
    shutil.copy(mine.onnx, tmp_path / "fan.onnx")
    shutil.copy(mine.sidecar, tmp_path / "fan.npz")
    (tmp_path / f"fan.{damage}").write_bytes(b"not what it should be")
    with pytest.raises(ModelError, match=message):
        OnnxScorer(tmp_path / "fan.onnx")
