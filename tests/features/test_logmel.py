"""The torch-free log-mel transform: librosa's filterbank, the banded product, the torch path."""

import librosa
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.config.schema import FeatureConfig
from aegan.features.logmel import LogMel, MelTransform, mel_filterbank
from tests.numerics import reordered_sum_rtol

settings_strategy = st.builds(
    FeatureConfig,
    sample_rate=st.sampled_from([8000, 16000, 22050, 44100]),
    n_fft=st.sampled_from([256, 512, 1024, 2048]),
    n_mels=st.integers(8, 160),
    hop_length=st.sampled_from([128, 512]),
)


@pytest.mark.filterwarnings("ignore:Empty filters detected")  # many bands, few bins: expected
@settings(max_examples=15, deadline=None)
@given(cfg=settings_strategy)
def test_filterbank_is_librosas(cfg):
    ours = mel_filterbank(cfg)
    theirs = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels)
    # both built in float64 and rounded once to float32; only the operations' order differs
    np.testing.assert_allclose(ours, theirs, rtol=8 * np.finfo(np.float32).eps, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(cfg=settings_strategy, seed=st.integers(0, 2**16))
def test_banded_mel_product_equals_the_dense_one(cfg, seed):
    """Blocks of bands over their bins skip only zero weights, also where filters are empty,
    and add each bin's squared real and imaginary parts into its power."""
    transform = MelTransform(cfg)
    squares = np.random.default_rng(seed).random((40, cfg.n_fft + 2), dtype=np.float32)
    power = squares[:, 0::2].astype(np.float64) + squares[:, 1::2]
    dense = (power @ mel_filterbank(cfg).T.astype(np.float64)).T
    banded = transform.mel(squares, out=np.empty((cfg.n_mels, 40), np.float32))
    # each mel sum has at most n_fft + 2 terms, all positive (no cancellation)
    np.testing.assert_allclose(banded, dense, rtol=reordered_sum_rtol(cfg.n_fft + 2))


def test_torch_path_matches_the_numpy_path():
    """The GPU path (run here on the CPU) gives the numpy path's features within 1e-3 dB."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    waves = np.stack(
        [
            (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)),
            1e-3 * rng.standard_normal(t.size),
        ]
    ).astype(np.float32)
    logmel = LogMel(FeatureConfig())
    on_cpu = logmel(torch.from_numpy(waves)).numpy()
    in_torch = logmel.torch_log_mel(torch.from_numpy(waves)).numpy()
    assert on_cpu.shape == in_torch.shape == (2, 128, 94)
    assert np.abs(on_cpu - in_torch).max() < 1e-3


def test_frame_chunks_do_not_change_a_clip():
    """Frames go through in chunks; a clip of a chunk's length plus one frame is whole."""
    cfg = FeatureConfig()
    transform = MelTransform(cfg)
    wave = np.random.default_rng(1).standard_normal(32 * cfg.hop_length).astype(np.float32)
    whole = librosa.power_to_db(
        librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=2048, hop_length=512, n_mels=128),
        ref=1.0,
    )
    ours = transform(wave)
    assert ours.shape == whole.shape == (128, 33)
    assert np.abs(ours - whole).max() < 1e-3
