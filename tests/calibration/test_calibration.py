"""Calibration: one critic pass for every clip, all passes for a stratified threshold subset,
resumable after an interruption (docs/method.md sections 5 and 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan import paths
from aegan.calibration.calibrate import calibrate
from aegan.calibration.passes import CalibrationEstimate
from aegan.calibration.threshold_clips import stratum, threshold_subset
from aegan.config.schema import load_config
from aegan.dcase.clips import Clip
from aegan.errors import UsageError
from aegan.features.cache import FeatureSet
from aegan.model import precision as precision_module
from aegan.model.nets import Discriminator, Generator, segment_flops
from aegan.score_names import D_SCORE_NAMES, G_SCORE_NAMES, score_index
from tests.conftest import SMALL_NET
from tests.numerics import reordered_sum_rtol

SECTIONS = ("00", "01", "02")
DOMAINS = ("source", "target")


def _clip(i: int, section: str, domain: str) -> Clip:
    return Clip(
        path=Path(f"section_{section}_{domain}_train_normal_{i:04d}.wav"), year=2022,
        machine="fan", subset="dev", split="train", group=section, index=f"{i:04d}", domain=domain,
    )  # fmt: skip


def _train_set(n_per_section: int = 10, frames: int = 40, seed: int = 0) -> FeatureSet:
    """Three sections, most clips source, two target clips per section; random dB spectrograms."""
    clips = [
        _clip(len(SECTIONS) * k + s, section, "target" if k < 2 else "source")
        for s, section in enumerate(SECTIONS)
        for k in range(n_per_section)
    ]
    rng = np.random.default_rng(seed)
    widths = np.full(len(clips), frames)
    widths[::7] += 6  # a few longer clips: the reference is the median
    data = rng.uniform(-80, 0, (32, int(widths.sum()))).astype(np.float32)
    return FeatureSet(clips, data, np.concatenate([[0], np.cumsum(widths)]))


@pytest.fixture(scope="module")
def cfg():
    return load_config(22, "fan", overrides=[*SMALL_NET, "train_set=dev"])


def _nets(cfg):
    torch.manual_seed(0)
    return Generator(cfg.net), Discriminator(cfg.net)


@pytest.fixture(scope="module")
def train_set():
    return _train_set()


@pytest.fixture(scope="module")
def full(cfg, train_set):
    return calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=None, resumable=False)


# ---------------------------------------------------------------- the subset


def test_subset_covers_every_stratum_and_is_deterministic(train_set):
    chosen = threshold_subset(train_set.clips, 8)
    assert len(chosen) == 8
    assert {stratum(train_set.clips[i]) for i in chosen} == {stratum(c) for c in train_set.clips}
    np.testing.assert_array_equal(chosen, threshold_subset(train_set.clips, 8))


def test_subset_of_at_least_all_clips_is_all_of_them(train_set):
    np.testing.assert_array_equal(threshold_subset(train_set.clips, None), np.arange(30))
    np.testing.assert_array_equal(threshold_subset(train_set.clips, 30), np.arange(30))


def test_a_subset_smaller_than_the_strata_still_covers_them(train_set):
    assert len(threshold_subset(train_set.clips, 1)) == len(SECTIONS) * len(DOMAINS)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_a_bad_subset_size_is_a_usage_error(train_set, size):
    with pytest.raises(UsageError, match="threshold clips"):
        threshold_subset(train_set.clips, size)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6),
    size=st.integers(1, 60),
)
def test_subset_size_and_coverage_for_any_strata(sizes, size):
    clips = [_clip(i, f"{s:02d}", "source") for s, n in enumerate(sizes) for i in range(n)]
    chosen = threshold_subset(clips, size)
    assert len(set(chosen.tolist())) == len(chosen) == min(max(size, len(sizes)), len(clips))
    assert {clips[i].group for i in chosen} == {c.group for c in clips}


# ---------------------------------------------------------------- calibration


def test_subset_calibration_keeps_the_embeddings_and_scores_of_the_full_one(cfg, train_set, full):
    part = calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=8, resumable=False)
    rtol = reordered_sum_rtol(cfg.net.isize**2)
    np.testing.assert_allclose(part.train_embeddings, full.train_embeddings, rtol=rtol, atol=1e-6)
    chosen = threshold_subset(train_set.clips, 8)
    others = np.setdiff1d(np.arange(len(train_set)), chosen)
    for name in G_SCORE_NAMES:
        column = score_index(name)
        np.testing.assert_allclose(
            part.train_scores[chosen, column], full.train_scores[chosen, column], rtol=rtol
        )
        assert np.isnan(part.train_scores[others, column]).all()
        assert np.isfinite(part.threshold(name))
    for name in D_SCORE_NAMES:
        column = score_index(name)
        np.testing.assert_allclose(
            part.train_scores[:, column], full.train_scores[:, column], rtol=1e-4, atol=1e-6
        )


def test_reference_is_the_median_segment_count(full, cfg):
    assert full.reference_segments == 40 - cfg.feat.segment_frames + 1


def _counting(cfg):
    generator, discriminator = _nets(cfg)
    seen = {"critic": 0, "encoder": 0}

    def count(key):
        def hook(_module, inputs, _output):
            seen[key] += inputs[0].shape[0]

        return hook

    discriminator.register_forward_hook(count("critic"))
    generator.Encoder.register_forward_hook(count("encoder"))
    return generator, discriminator, seen


def test_every_segment_gets_one_critic_pass_and_only_threshold_clips_the_others(cfg, train_set):
    generator, discriminator, seen = _counting(cfg)
    calibrate(cfg, generator, discriminator, [train_set], threshold_clips=8, resumable=False)
    counts = np.array([len(s) for s in train_set.all_segments(cfg.feat.segment_frames)])
    assert seen["critic"] == counts.sum()
    assert seen["encoder"] == 2 * counts[threshold_subset(train_set.clips, 8)].sum()


def test_an_interrupted_calibration_resumes_where_it_stopped(cfg, train_set):
    def interrupt(task, done, total):
        if task.startswith("Embedding") and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=8, progress=interrupt)
    saved = list((paths.cache_dir() / "calibration").glob("*/*.npz"))
    assert len(saved) == 2  # the scored chunk and the first embedded one

    generator, discriminator, seen = _counting(cfg)
    reports = []
    resumed = calibrate(
        cfg, generator, discriminator, [train_set], threshold_clips=8,
        progress=lambda task, done, total: reports.append((task, done, total)),
    )  # fmt: skip
    counts = np.array([len(s) for s in train_set.all_segments(cfg.feat.segment_frames)])
    assert seen["encoder"] == 0
    assert 0 < seen["critic"] < counts.sum()
    assert ("Embedding training clips", 22, 22) in reports
    straight = calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=8, resumable=False)
    np.testing.assert_array_equal(resumed.train_embeddings, straight.train_embeddings)
    np.testing.assert_array_equal(resumed.train_scores, straight.train_scores)
    assert not list((paths.cache_dir() / "calibration").glob("*/*.npz"))  # done: forgotten


def test_the_estimate_is_announced_before_the_run(cfg, train_set):
    heard: list[CalibrationEstimate] = []
    calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=8, announce=heard.append)
    (estimate,) = heard
    assert (estimate.clips, estimate.threshold_clips, estimate.device) == (30, 8, "cpu")
    assert estimate.seconds > 0
    everything, critic = segment_flops(*_nets(cfg))
    feat = cfg.feat
    counts = np.array(
        [len(c) for c in train_set.all_segments(feat.segment_frames, feat.segment_hop)]
    )
    scored = counts[threshold_subset(train_set.clips, 8)].sum()
    expected = scored * everything + (counts.sum() - scored) * critic
    assert estimate.flops == pytest.approx(expected, rel=1e-12)
    assert estimate.describe().startswith("about ")
    assert estimate.describe().endswith(f"this CPU ({expected / 1e12:.1f} TFLOP of network passes)")


@pytest.mark.parametrize(
    "seconds, text",
    [(3, "about 5 s"), (61, "about 60 s"), (2400, "about 40 min"), (9000, "about 2.5 h")],
)
def test_estimates_read_as_round_figures(seconds, text):
    estimate = CalibrationEstimate(seconds, 1, 1, 1, "cpu", flops=7.6e12)
    assert estimate.describe() == f"{text} on this CPU (7.6 TFLOP of network passes)"


def test_a_damaged_saved_chunk_is_computed_again(cfg, train_set):
    def interrupt(task, done, total):
        if task.startswith("Embedding"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=8, progress=interrupt)
    (saved,) = (paths.cache_dir() / "calibration").glob("*/scored-*.npz")
    saved.write_bytes(b"not an npz file")
    generator, discriminator, seen = _counting(cfg)
    resumed = calibrate(cfg, generator, discriminator, [train_set], threshold_clips=8)
    assert seen["encoder"] > 0
    straight = calibrate(cfg, *_nets(cfg), [train_set], threshold_clips=8, resumable=False)
    np.testing.assert_array_equal(resumed.train_scores, straight.train_scores)


def test_bf16_calibration_is_refused_before_any_work_where_bf16_is_emulated(
    cfg, train_set, monkeypatch
):
    monkeypatch.setattr(precision_module, "bf16_is_fast", lambda device_type: False)
    generator, discriminator, seen = _counting(cfg)
    with pytest.raises(UsageError, match="no bf16 arithmetic"):
        calibrate(cfg, generator, discriminator, [train_set], precision="bf16")
    assert seen == {"critic": 0, "encoder": 0}
