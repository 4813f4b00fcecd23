import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.config.schema import FeatureConfig
from aegan.errors import AudioError
from aegan.features.audio import probe, read_audio, resample
from aegan.features.logmel import LogMel
from tests.conftest import write_tone
from tests.resampling import peak_error, tones


def _machine_like(seconds: float, seed: int) -> np.ndarray:
    """Harmonics, a chirp, clicks, noise and a quiet stretch: a wide dynamic range."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    wave = sum(0.2 / k * np.sin(2 * np.pi * 120 * k * t + rng.uniform(0, 6)) for k in range(1, 8))
    wave = wave + 0.1 * np.sin(2 * np.pi * (300 + 400 * t) * t) + 0.02 * rng.standard_normal(t.size)
    wave[rng.integers(0, t.size, 20)] += 0.8
    wave[: t.size // 10] *= 1e-3
    return (np.round(np.clip(wave, -1, 1) * 32767) / 32768).astype(np.float32)


def _librosa_logmel(wave: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=2048, hop_length=512, n_mels=128)
    return librosa.power_to_db(mel, ref=1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_mel_matches_librosa_within_a_thousandth_of_a_db(seed):
    waves = np.stack([_machine_like(10.0, seed), _machine_like(10.0, seed + 10) * 0.01])
    ours = LogMel(FeatureConfig())(torch.from_numpy(waves)).numpy()
    assert ours.shape == (2, 128, 313)  # a 10 s clip gives 313 frames
    for wave, mel in zip(waves, ours, strict=True):
        assert np.abs(mel - _librosa_logmel(wave)).max() < 1e-3


def test_top_db_floor_is_per_clip_not_per_batch():
    loud = _machine_like(3.0, 0)
    quiet = loud * 1e-3  # 60 dB lower: a batch-wide floor would flatten it
    batch = LogMel(FeatureConfig())(torch.from_numpy(np.stack([loud, quiet]))).numpy()
    alone = LogMel(FeatureConfig())(torch.from_numpy(quiet[None])).numpy()[0]
    np.testing.assert_allclose(batch[1], alone, atol=1e-3)
    assert batch[1].min() < batch[0].max() - 100


def test_reads_wav_as_librosa_does(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=1.0)
    ours = read_audio(path, 16000)
    ref, _ = librosa.load(path, sr=None, mono=True)
    np.testing.assert_array_equal(ours, ref)


def test_44k_stereo_is_mixed_down_and_resampled(tmp_path):
    path = write_tone(
        tmp_path / "stereo.wav", seconds=2.0, sample_rate=44100, freq=1000.0, channels=2
    )
    wave = read_audio(path, 16000)
    assert wave.shape == (32000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * 16000 / wave.size == pytest.approx(1000.0, abs=1.0)
    assert probe(path, 16000).target_samples == 32000


@pytest.mark.parametrize("rate", [22050, 32000, 44100, 48000])
def test_resampling_keeps_tones_as_sampled_at_16k(rate):
    """The reference is the tones sampled at 16 kHz analytically, not another resampler."""
    wave = resample(tones(rate), rate, 16000)
    expected = tones(16000)
    assert wave.shape == expected.shape and wave.dtype == np.float32
    edge = 64  # the filter's reach at either end, where it sees the zeros past the signal
    np.testing.assert_allclose(wave[edge:-edge], expected[edge:-edge], rtol=0, atol=peak_error())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"this is a text file, not audio\n" * 10, "text"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 8, "corrupt header"),
    ],
)
def test_non_audio_files_are_named_in_the_error(tmp_path, content, reason):
    path = tmp_path / f"{reason.replace(' ', '_')}.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=path.name) as err:
        read_audio(path, 16000)
    assert "WAV or FLAC" in err.value.hint


def test_truncated_wav_is_refused(tmp_path):
    path = write_tone(tmp_path / "cut.wav", seconds=1.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert sf.info(str(path)).frames > 0  # libsndfile alone would accept it as shorter
    with pytest.raises(AudioError, match="cut.wav.*truncated"):
        read_audio(path, 16000)


@pytest.mark.parametrize(
    ("samples", "reason"),
    [
        (np.r_[np.zeros(8000), np.nan, np.zeros(7999)], "NaN or infinity"),
        (np.r_[np.full(8000, 0.1), np.inf, np.zeros(7999)], "NaN or infinity"),
        (np.zeros(16000), "digital silence"),
        (np.full(16000, 0.25), "digital silence"),
    ],
)
def test_non_finite_samples_and_digital_silence_are_unusable(tmp_path, samples, reason):
    path = tmp_path / "bad.wav"
    sf.write(str(path), samples.astype(np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=f"{path.name} is unusable: .*{reason}"):
        read_audio(path, 16000)


@settings(max_examples=60, deadline=None)
@given(
    samples=st.integers(1, 50000),
    rates=st.sampled_from(
        [
            (44100, 16000),
            (48000, 16000),
            (8000, 16000),
            (22050, 16000),
            (16000, 44100),
            (96000, 16000),
            (11025, 16000),
        ]
    ),
)
def test_the_length_a_header_promises_is_the_length_resampling_gives(samples, rates):
    """Timelines plan windows from headers alone: the promised length must be exact."""
    from aegan.features.audio import resample, resampled_length

    wave = np.full(samples, 0.1, np.float32)
    assert len(resample(wave, *rates)) == resampled_length(samples, *rates)
