"""The Python API's input forms: int and float samples, mono or (channels, N), lists, rates."""

import numpy as np
import pytest

from aegan.detector.detector import Detector
from aegan.detector.waveforms import to_float, to_mono
from aegan.errors import DataError, UsageError
from aegan.features.audio import read_audio
from tests.conftest import write_tone


@pytest.fixture(scope="module")
def detector(small_bundle):
    return Detector.load(small_bundle)


@pytest.fixture
def tone(tmp_path):
    return write_tone(tmp_path / "tone.wav", seconds=2.0)


def test_int16_samples_score_as_the_file_they_came_from(detector, tone):
    import soundfile as sf

    pcm, _ = sf.read(str(tone), dtype="int16")
    assert detector.score(pcm) == detector.score(tone)


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (np.array([-32768, 0, 16384], np.int16), [-1.0, 0.0, 0.5]),
        (np.array([-(2**31), 2**30], np.int32), [-1.0, 0.5]),
        (np.array([0, 128, 192], np.uint8), [-1.0, 0.0, 0.5]),
        (np.array([-128, 64], np.int8), [-1.0, 0.5]),
        (np.array([0.25, -0.5], np.float64), [0.25, -0.5]),
    ],
)
def test_integer_samples_are_scaled_to_full_scale(samples, expected):
    out = to_float(samples, "x")
    assert out.dtype == np.float32 and out.tolist() == expected


def test_one_stereo_recording_is_mixed_to_mono_not_taken_as_two(detector, tmp_path):
    stereo_file = write_tone(tmp_path / "stereo.wav", seconds=2.0, channels=2, seed=3)
    import soundfile as sf

    pcm, _ = sf.read(str(stereo_file), dtype="int16")
    value = detector.score(pcm.T)  # (channels, N)
    assert isinstance(value, float) and value == detector.score(stereo_file)
    np.testing.assert_array_equal(to_mono(np.stack([np.ones(4), 3 * np.ones(4)]), "x"), 2.0)


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros((48000, 2), np.float32), r"shape \(48000, 2\); a recording is \(N,\)"),
        (np.ones((1, 2, 3, 48000), np.float32), r"Waveform 0 has shape \(2, 3, 48000\)"),
        (np.array(["a", "b"]), "samples of type <U1"),
        (np.full(48000, np.nan, np.float32), "NaN or infinity"),
        (np.zeros(48000, np.int16), "digital silence"),
        (np.zeros(0, np.float32), "holds no samples"),
    ],
)
def test_bad_arrays_are_one_clear_error(detector, samples, message):
    with pytest.raises(DataError, match=message):
        detector.score(samples)


@pytest.mark.parametrize("rate", [0, -1, 44100.5, "16k", True, float("nan")])
def test_a_bad_sample_rate_is_a_usage_error(detector, tone, rate):
    with pytest.raises(UsageError, match="sample_rate must be a positive whole number"):
        detector.score(read_audio(tone, 16000), sample_rate=rate)
    with pytest.raises(UsageError):
        detector.score_items([tone], sample_rate=rate)


def test_a_whole_number_float_rate_is_accepted(detector, tone):
    wave = read_audio(tone, 16000)
    assert detector.score(wave, sample_rate=16000.0) == detector.score(wave)


def test_a_list_with_bad_items_names_every_one_of_them(detector, tone, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    silent = np.zeros(32000, np.float32)
    with pytest.raises(DataError) as caught:
        detector.score([tone, broken, silent, read_audio(tone, 16000)])
    message = caught.value.message
    assert message.startswith("2 of 4 recordings cannot be scored")
    assert "broken.wav" in message and "Waveform 2 is unusable: it is digital silence" in message


def test_score_items_scores_the_usable_and_reports_the_rest(detector, tone, tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    results = detector.score_items([tone, broken, np.zeros(32000, np.float32), "missing.wav"])
    assert [r.error is None for r in results] == [True, False, False, False]
    assert results[0].score == detector.score(tone) and results[0].decision in ("normal", "anomaly")
    assert results[2].path == "Waveform 2" and "digital silence" in results[2].error
    assert "missing.wav" in results[3].error


def test_lists_of_arrays_score_each_item(detector, tone):
    wave = read_audio(tone, 16000)
    values = detector.score([wave, wave * 0.5])
    assert values.shape == (2,) and values[0] == detector.score(wave)
    stacked = np.stack([np.stack([wave, wave]), np.stack([wave, wave * 0.5])])
    both = detector.score(stacked)  # (items, channels, N): a list of recordings
    assert both.shape == (2,) and both[0] == values[0]
