import json

import numpy as np
import pytest
import torch

from aegan.cli import app
from aegan.detector.detector import Detector
from aegan.detector.localize import (
    ARRAY_NAMES,
    localize_file,
    localize_spectrogram,
    save_arrays,
)
from aegan.features.logmel import mel_centre_frequencies
from aegan.plots import PNG_DPI, PNG_SIZE_INCHES, save_png
from tests.conftest import write_tone
from tests.numerics import reordered_sum_atol


@pytest.fixture
def detector(small_bundle):
    return Detector.load_file(small_bundle)


def reference_reconstruction(detector: Detector, spectrogram: np.ndarray) -> np.ndarray:
    """The original's per-column loop, one segment at a time, with the end-aligned extra segment."""
    feat = detector.cfg.feat
    frames, n_frames = feat.segment_frames, spectrogram.shape[1]
    starts = list(range(0, n_frames - frames + 1, feat.segment_hop))
    if starts[-1] != n_frames - frames:
        starts.append(n_frames - frames)
    scaled = torch.from_numpy(detector.scaler(spectrogram).astype(np.float32))
    with torch.no_grad():
        recon = {s: detector.generator(scaled[None, None, :, s : s + frames])[0, 0] for s in starts}
    out = np.zeros_like(spectrogram)
    for col in range(n_frames):
        covering = [recon[s][:, col - s].numpy() for s in starts if s <= col < s + frames]
        out[:, col] = np.mean(covering, axis=0)
    return (out + 1) / 2


def random_spectrogram(n_mels: int, n_frames: int) -> np.ndarray:
    return np.random.default_rng(n_frames).uniform(-80, 0, (n_mels, n_frames)).astype(np.float32)


@pytest.mark.parametrize(
    ("hop", "n_frames"),
    [(1, 47), (1, 32), (3, 47), (3, 48), (3, 49)],  # (47-32) % 3 == 0; 48 and 49 leave a tail
)
def test_reconstruction_averages_every_segment_covering_a_frame(detector, hop, n_frames):
    detector.cfg.feat.segment_hop = hop
    spectrogram = random_spectrogram(detector.cfg.feat.n_mels, n_frames)
    result = localize_spectrogram(detector, spectrogram, batch_size=4)  # several batches
    expected = reference_reconstruction(detector, spectrogram)
    # batches of 4 against single segments: reordered float32 sums, values within [0, 1]
    atol = reordered_sum_atol(detector.cfg.net.isize**2, 1.0)
    np.testing.assert_allclose(result.reconstruction, expected, atol=atol)
    np.testing.assert_allclose(result.residual, np.abs(result.input - expected), atol=atol)
    assert np.isfinite(result.anomaly_map).all()


def test_map_compares_with_the_mean_training_spectrogram(detector):
    mean = detector.mean_spectrogram
    same_length = localize_spectrogram(detector, random_spectrogram(mean.shape[0], mean.shape[1]))
    np.testing.assert_array_equal(same_length.mean_training, mean)
    np.testing.assert_allclose(
        same_length.anomaly_map, np.abs(same_length.reconstruction - mean), atol=1e-7
    )
    longer = localize_spectrogram(detector, random_spectrogram(mean.shape[0], mean.shape[1] + 9))
    profile = mean.mean(axis=1)
    assert longer.mean_training.shape == longer.input.shape
    np.testing.assert_allclose(longer.mean_training, np.repeat(profile[:, None], 56, 1), atol=1e-6)


def test_axes_are_seconds_and_slaney_mel_centres_in_hz(detector):
    import librosa

    feat = detector.cfg.feat
    result = localize_spectrogram(detector, random_spectrogram(feat.n_mels, 40))
    np.testing.assert_allclose(result.times[:2], [0.0, feat.hop_length / feat.sample_rate])
    expected = librosa.mel_frequencies(feat.n_mels + 2, fmin=0.0, fmax=feat.sample_rate / 2)
    np.testing.assert_allclose(result.frequencies, expected[1:-1], rtol=1e-9)
    default = mel_centre_frequencies(type(feat)())  # the published 128-band setting
    assert default.shape == (128,) and 0 < default[0] < 50 and 7500 < default[-1] < 8000


def test_png_and_arrays_are_written(detector, tmp_path):
    import matplotlib.image

    wav = write_tone(tmp_path / "clip.wav", seconds=1.5, freq=1000.0)
    result = localize_file(detector, wav)
    png = save_png(result, tmp_path / "out" / "clip.png", "clip.wav · model fan-small")
    pixels = matplotlib.image.imread(png)
    width, height = PNG_SIZE_INCHES
    assert pixels.shape[:2] == (round(height * PNG_DPI), round(width * PNG_DPI))
    rgb = pixels[..., :3]
    assert (rgb < 0.9).mean() > 0.2 and rgb.std() > 0.1  # far from a blank page
    saved = np.load(save_arrays(result, tmp_path / "out" / "clip.npz"))
    assert set(saved.files) == set(ARRAY_NAMES)
    np.testing.assert_array_equal(saved["anomaly_map"], result.anomaly_map)
    assert not list((tmp_path / "out").glob(".*part"))  # no temporary files left


def test_cli_maps_a_folder_and_reports_broken_files(runner, installed_bundle, tmp_path):
    folder = tmp_path / "clips"
    write_tone(folder / "a.wav", seconds=1.5)
    write_tone(folder / "sub" / "a.wav", seconds=1.5, freq=880.0)  # same name, other folder
    (folder / "broken.wav").write_bytes(b"not audio at all")
    write_tone(folder / "short.wav", seconds=0.2)
    out = tmp_path / "maps"
    result = runner.invoke(app, ["localize", str(folder), "--model", "fan-small", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "broken.wav" in result.output and "short.wav" in result.output
    assert "2 of 4 maps written" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a-2.npz", "a-2.png", "a.npz", "a.png"]
    assert "Traceback" not in result.output


def test_cli_json_and_default_folder(runner, installed_bundle, tmp_path):
    wav = write_tone(tmp_path / "one.wav", seconds=1.5)
    result = runner.invoke(app, ["localize", str(wav), "-m", "fan-small", "--json"])
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.stdout)
    assert entry["error"] is None and entry["png"].endswith("localize/fan-small/one.png")
    no_model = runner.invoke(app, ["localize", str(wav)])
    assert no_model.exit_code == 2 and "--model" in no_model.output


def test_a_stretch_of_a_long_recording_maps_as_that_stretch_cut_out(detector, tmp_path):
    import soundfile as sf

    from aegan.errors import UsageError

    long = write_tone(tmp_path / "long.wav", seconds=6.0, freq=700.0, channels=2)
    samples, rate = sf.read(str(long), dtype="int16")
    sf.write(str(tmp_path / "cut.wav"), samples[2 * rate : 4 * rate], rate, subtype="PCM_16")
    part = localize_file(detector, long, start=2.0, end=4.0)
    cut = localize_file(detector, tmp_path / "cut.wav")
    np.testing.assert_array_equal(part.anomaly_map, cut.anomaly_map)
    np.testing.assert_array_equal(part.times, cut.times + 2.0)  # the recording's time axis
    assert localize_file(detector, long, start=4.5).times[0] == 4.5
    with pytest.raises(UsageError, match="lasts 6.00 s"):
        localize_file(detector, long, start=2.0, end=7.0)


def test_cli_maps_a_stretch_and_refuses_one_past_the_end(runner, installed_bundle, tmp_path):
    long = write_tone(tmp_path / "long.wav", seconds=6.0, freq=700.0)
    out = tmp_path / "maps"
    args = ["localize", str(long), "-m", "fan-small", "-o", str(out), "--json"]
    result = runner.invoke(app, [*args, "--start", "2", "--end", "4"])
    assert result.exit_code == 0, result.output
    times = np.load(out / "long.npz")["times"]
    assert times[0] >= 2.0 and times[-1] <= 4.0
    past = runner.invoke(app, [*args, "--start", "2", "--end", "7"])
    assert past.exit_code == 1 and "lasts 6.00 s" in past.output
