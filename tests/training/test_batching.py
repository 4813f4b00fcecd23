"""Which segments each batch of each epoch takes, and the training features on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.errors import DataError
from aegan.features.cache import FeatureSet
from aegan.features.segments import Scaler, segment_view
from aegan.training.batching import (
    ALPHA_STREAM,
    SHUFFLE_STREAM,
    DeviceFeatures,
    batches_per_epoch,
    check_batches,
    epoch_seed,
    rank_share,
)
from aegan.training.distributed import Rank

SCALER = Scaler(max=0.0, min=-80.0)


def feature_set(lengths: list[int], n_mels: int = 8, seed: int = 0) -> FeatureSet:
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = rng.uniform(-80.0, 0.0, (n_mels, int(offsets[-1]))).astype(np.float32)
    return FeatureSet([None] * len(lengths), data, offsets)


# ---------------------------------------------------------------- epoch seeds


def test_epoch_seeds_depend_on_seed_epoch_and_stream_only() -> None:
    assert epoch_seed(7, 3, SHUFFLE_STREAM) == epoch_seed(7, 3, SHUFFLE_STREAM)
    seeds = {
        epoch_seed(seed, epoch, stream)
        for seed in (0, 1)
        for epoch in range(20)
        for stream in (SHUFFLE_STREAM, ALPHA_STREAM)
    }
    assert len(seeds) == 2 * 20 * 2  # no two streams of two epochs or seeds draw alike
    assert all(0 <= s < 2**32 for s in seeds)  # usable by torch.Generator and numpy


def test_an_epoch_seed_ignores_the_global_random_state() -> None:
    """A resumed run (a new process, other RNG use before) must draw what the first did."""
    before = [epoch_seed(2024, e, s) for e in (0, 5) for s in (SHUFFLE_STREAM, ALPHA_STREAM)]
    np.random.seed(123)
    torch.manual_seed(456)
    np.random.random(10)
    after = [epoch_seed(2024, e, s) for e in (0, 5) for s in (SHUFFLE_STREAM, ALPHA_STREAM)]
    assert before == after


def test_epoch_seeds_are_stable_across_versions() -> None:
    """A checkpoint resumed by a later aegan must shuffle as the run that wrote it did."""
    assert [epoch_seed(0, 0, 0), epoch_seed(0, 0, 1), epoch_seed(2024, 5, 0)] == [
        4088532484, 3581274545, 3761746709,
    ]  # fmt: skip


# ---------------------------------------------------------------- batches and shares


@settings(deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 1024))
def test_only_full_batches_are_trained(n_segments: int, batch_size: int) -> None:
    batches = batches_per_epoch(n_segments, batch_size)
    assert batches * batch_size <= n_segments < (batches + 1) * batch_size


@settings(max_examples=80, deadline=None)
@given(
    world=st.sampled_from([1, 2, 3, 4, 8]),
    per_rank=st.integers(1, 16),
    batch=st.integers(0, 50),
)
def test_rank_shares_split_each_batch_into_disjoint_consecutive_parts(
    world: int, per_rank: int, batch: int
) -> None:
    batch_size = world * per_rank
    shares = [rank_share(batch, batch_size, Rank(rank=r, world=world)) for r in range(world)]
    positions = [p for s in shares for p in range(s.start, s.stop)]
    assert positions == list(range(batch * batch_size, (batch + 1) * batch_size))
    assert all(s.stop - s.start == per_rank for s in shares)


def test_one_process_trains_on_the_whole_batch() -> None:
    assert rank_share(3, 64, Rank()) == slice(192, 256)


# ---------------------------------------------------------------- refusing batches


def test_a_batch_size_that_does_not_split_over_the_processes_is_refused() -> None:
    with pytest.raises(DataError) as caught:
        check_batches(1000, 100, world=3)
    assert "100" in caught.value.message and "3 processes" in caught.value.message
    suggestion = int(caught.value.hint.split("train.batch_size=")[1].rstrip("."))
    assert suggestion % 3 == 0 and 0 < suggestion <= 100


def test_a_batch_smaller_than_the_processes_suggests_one_per_process() -> None:
    with pytest.raises(DataError) as caught:
        check_batches(1000, 2, world=4)
    assert "--set train.batch_size=4" in caught.value.hint


@settings(deadline=None)
@given(st.integers(0, 5000), st.sampled_from([1, 2, 4, 8]), st.integers(1, 600))
def test_too_little_data_suggests_a_batch_size_that_fits(
    n_segments: int, world: int, per_rank: int
) -> None:
    batch_size = world * per_rank
    if n_segments >= batch_size:
        check_batches(n_segments, batch_size, world)  # accepted
        return
    with pytest.raises(DataError) as caught:
        check_batches(n_segments, batch_size, world)
    assert f"{n_segments} segments" in caught.value.message
    suggestion = int(caught.value.hint.split("train.batch_size=")[1].rstrip("."))
    per_process, remainder = divmod(suggestion, world)
    assert remainder == 0 and per_process & (per_process - 1) == 0  # a power of two each
    assert suggestion <= max(n_segments, world) < 2 * suggestion


def test_the_suggested_batch_size_also_splits_over_the_processes() -> None:
    with pytest.raises(DataError) as caught:
        check_batches(300, 510, world=3)
    suggestion = int(caught.value.hint.split("train.batch_size=")[1].rstrip("."))
    check_batches(300, suggestion, world=3)  # following the hint must work


# ---------------------------------------------------------------- features on the device


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(8, 30), min_size=1, max_size=5),
    frames=st.integers(1, 8),
    hop=st.integers(1, 4),
)
def test_segments_are_the_windows_of_each_scaled_clip(
    lengths: list[int], frames: int, hop: int
) -> None:
    """Batch i is the i-th window of the clips in order; no window crosses two clips."""
    first, second = feature_set(lengths, seed=1), feature_set(lengths[::-1], seed=2)
    data = DeviceFeatures.upload([first, second], SCALER, torch.device("cpu"), frames, hop)
    expected = [
        SCALER(window)
        for fs in (first, second)
        for i in range(len(fs))
        for window in segment_view(fs.spectrogram(i), frames, hop)
    ]
    assert data.n_segments == len(expected)
    assert data.n_clips == 2 * len(lengths)
    if expected:
        batch = data.batch(torch.arange(len(expected)))
        assert batch.shape == (len(expected), 1, 8, frames)
        np.testing.assert_allclose(batch[:, 0].numpy(), np.stack(expected), rtol=1e-6)
    views = data.clip_segments()
    flat = [segment for clip in views for segment in clip]
    assert len(flat) == len(expected)
    for got, want in zip(flat, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_a_batch_takes_the_requested_segments_in_the_requested_order() -> None:
    fs = feature_set([12, 10], n_mels=4)
    data = DeviceFeatures.upload([fs], SCALER, torch.device("cpu"), frames=4, hop=2)
    windows = [SCALER(w) for i in range(2) for w in segment_view(fs.spectrogram(i), 4, 2)]
    assert data.n_segments == len(windows) == 5 + 4
    picks = torch.tensor([8, 0, 5, 5])
    batch = data.batch(picks)
    assert batch.is_contiguous() and batch.dtype == torch.float32
    for row, index in zip(batch, picks.tolist(), strict=True):
        np.testing.assert_allclose(row[0].numpy(), windows[index], rtol=1e-6)


def test_upload_in_chunks_gives_the_same_features(monkeypatch: pytest.MonkeyPatch) -> None:
    import aegan.training.batching as batching

    sets = [feature_set([30, 25], seed=3), feature_set([17], seed=4)]
    whole = DeviceFeatures.upload(sets, SCALER, torch.device("cpu"), 5, 3)
    monkeypatch.setattr(batching, "UPLOAD_FRAMES", 7)
    chunked = DeviceFeatures.upload(sets, SCALER, torch.device("cpu"), 5, 3)
    assert torch.equal(whole.data, chunked.data) and torch.equal(whole.starts, chunked.starts)
    assert whole.data.min() >= -1.0 and whole.data.max() <= 1.0  # scaled to [-1, 1]
