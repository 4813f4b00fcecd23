import numpy as np
import pytest
import scipy.stats
import torch
from safetensors.torch import save_file

from aegan.dcase.clips import discover
from aegan.detector.detector import Detector, gamma_threshold
from aegan.errors import DataError, ModelError, UsageError
from aegan.features.audio import read_audio
from aegan.score_names import SCORE_NAMES
from tests.conftest import write_tone
from tests.resampling import power_error_db, tones


@pytest.fixture
def detector(small_bundle):
    return Detector.load(small_bundle)


def _test_wavs(root):
    return [c.path for c in discover(root, 2022, "fan", "dev", "test")]


def test_bundle_round_trip_keeps_every_part(small_bundle, tmp_path):
    first = Detector.load(small_bundle)
    copy = first.save(tmp_path / "copy.safetensors")
    second = Detector.load(copy)
    assert second.cfg == first.cfg and second.scaler == first.scaler
    np.testing.assert_array_equal(second.train_embeddings, first.train_embeddings)
    np.testing.assert_array_equal(second.train_scores, first.train_scores)
    for a, b in zip(
        first.generator.state_dict().values(), second.generator.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert second.threshold() == first.threshold()
    assert second.provenance.source == "trained"


def test_file_and_array_give_the_same_score(detector, synth22):
    wav = _test_wavs(synth22)[0]
    from_file = detector.score(wav)
    from_array = detector.score(read_audio(wav, 16000))
    assert isinstance(from_file, float) and from_file == pytest.approx(from_array, rel=1e-6)
    several = detector.score([wav, wav], score="D_lof")
    assert several.shape == (2,) and several[0] == several[1]


@pytest.mark.parametrize("rate", [32000, 48000])
def test_arrays_at_another_rate_are_resampled(detector, rate):
    """The features of tones sampled at ``rate`` are those of the same tones sampled at 16 kHz."""
    feat = detector.cfg.feat
    at_16k, at_rate = tones(feat.sample_rate), tones(rate)
    expected = detector.spectrogram(at_16k)
    features = detector.spectrogram(at_rate, sample_rate=rate)
    assert features.shape == expected.shape
    # Frames whose window reaches an end of the clip see the resampler's edge; the others
    # hold each band's power within the filter's ripple.
    edge = feat.n_fft // (2 * feat.hop_length) + 1
    inner = slice(edge, -edge)
    np.testing.assert_allclose(
        features[:, inner], expected[:, inner], rtol=0, atol=power_error_db()
    )
    score, misread = detector.score(at_rate, sample_rate=rate), detector.score(at_rate)
    reference = detector.score(at_16k)
    assert abs(score - reference) < 0.1 * abs(misread - reference)


def test_arrays_at_another_rate_score_as_their_round_trip(detector, synth22):
    import soxr

    wave = read_audio(_test_wavs(synth22)[0], 16000)
    at_32k = soxr.resample(wave, 16000, 32000, quality="VHQ")
    back = soxr.resample(at_32k, 32000, 16000, quality="VHQ")
    assert detector.score(at_32k, sample_rate=32000) == pytest.approx(
        detector.score(back), rel=1e-6
    )


def test_scores_of_files_match_the_cached_feature_path(detector, synth22):
    from aegan.features.cache import load_or_compute

    clips = discover(synth22, 2022, "fan", "dev", "test")
    features, _ = load_or_compute(clips, detector.cfg.feat, "dev_test")
    batched = detector.score_spectrograms([features.spectrogram(i) for i in range(len(features))])
    direct = detector.score([c.path for c in clips], score="G_z_cos_min")
    np.testing.assert_allclose(direct, batched.column("G_z_cos_min"), rtol=1e-5)
    assert batched.values.shape == (len(clips), len(SCORE_NAMES))
    assert np.isfinite(batched.values).all()


def test_score_files_reports_broken_files_and_scores_the_rest(detector, synth22, tmp_path):
    good = _test_wavs(synth22)[:2]
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    short = write_tone(tmp_path / "short.wav", seconds=0.5)
    results = detector.score_files([good[0], broken, short, good[1]])
    assert [r.error is None for r in results] == [True, False, False, True]
    assert "broken.wav" in results[1].error and "too short" in results[2].error
    assert results[0].anomalous == (results[0].score > detector.threshold())


def test_gamma_threshold_is_the_fitted_quantile():
    rng = np.random.default_rng(0)
    sample = scipy.stats.gamma.rvs(3.0, loc=1.0, scale=2.0, size=4000, random_state=rng)
    truth = scipy.stats.gamma.ppf(0.9, 3.0, loc=1.0, scale=2.0)
    assert gamma_threshold(sample, 0.9) == pytest.approx(truth, rel=0.03)
    assert gamma_threshold(np.full(10, 2.0), 0.9) == 2.0
    with_nan_max = np.append(sample, np.finfo(np.float32).max)
    assert gamma_threshold(with_nan_max, 0.9) == pytest.approx(truth, rel=0.03)


def test_thresholds_exist_for_every_score(detector):
    thresholds = {name: detector.threshold(name) for name in SCORE_NAMES}
    assert all(np.isfinite(list(thresholds.values())))
    with pytest.raises(UsageError, match="Unknown anomaly score"):
        detector.threshold("G_q_sum")


def test_short_input_is_a_clear_error(detector):
    with pytest.raises(DataError, match="too short"):
        detector.score(np.random.default_rng(0).standard_normal(4000).astype(np.float32))


def test_corrupt_or_foreign_bundles_are_refused(small_bundle, tmp_path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(small_bundle.read_bytes()[:5000])
    with pytest.raises(ModelError, match="Cannot load the model bundle"):
        Detector.load(cut)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(ModelError, match="not an aegan model bundle"):
        Detector.load(foreign)
    with pytest.raises(ModelError, match="does not exist"):
        Detector.load(tmp_path / "missing.safetensors")


def test_bundle_whose_weights_do_not_fit_its_config_is_refused(small_bundle, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(small_bundle))
    with safe_open(str(small_bundle), framework="pt") as fh:
        metadata = fh.metadata()
    metadata["config"] = metadata["config"].replace('"ndf": 8', '"ndf": 16')
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=metadata)
    with pytest.raises(ModelError, match="weights do not fit its config"):
        Detector.load(bad)


def test_unknown_model_name_lists_close_ones():
    with pytest.raises(UsageError, match="Did you mean fan22"):
        Detector.load("fan2")
    with pytest.raises(ModelError, match="aegan fetch fan22"):
        Detector.load("FAN22")


def test_model_of_another_machine_is_refused(detector):
    with pytest.raises(ModelError, match="is for fan .DCASE 2022., not slider"):
        detector.check_matches(2022, "slider")
