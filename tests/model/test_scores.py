"""The 19 anomaly scores: batched scoring equals the plain per-segment definitions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from aegan.config.schema import NetConfig
from aegan.errors import DataError, ModelError, UsageError
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.model.scores import clip_embeddings, score_clips, segment_outputs
from aegan.score_names import FLOAT32_MAX, SCORE_NAMES, score_index
from tests.numerics import reordered_sum_atol, reordered_sum_rtol

ISIZE = 32
NET = NetConfig(isize=ISIZE, nz=16, ndf=8, ngf=8)
EMBEDDING_DIM = 32
SEGMENT_RTOL = reordered_sum_rtol(ISIZE * ISIZE)
"""Scores of float32 passes in other batches: the longest float32 sums, over a segment."""
COS_COLUMNS = [score_index(name) for name in SCORE_NAMES if name.startswith("G_z_cos")]


def _assert_same_embedding(actual: np.ndarray, desired: np.ndarray) -> None:
    """An embedding entry is a float32 sum whose terms may cancel to near zero: its rounding
    is relative to the size of the terms, taken as the embedding's largest entry."""
    scale = float(np.abs(desired).max())
    np.testing.assert_allclose(actual, desired, rtol=SEGMENT_RTOL, atol=SEGMENT_RTOL * scale)


def _assert_same_scores(actual: np.ndarray, desired: np.ndarray, segments: int) -> None:
    """Scores of the same clips from passes in other batches or layouts.

    The G_z_cos scores pool 1 - cos(z, z'), which cancels when the codes are
    nearly parallel: z's relative rounding (SEGMENT_RTOL) moves each cosine by
    up to about twice that in absolute terms, summed over a clip's segments.
    """
    cos_atol = 2 * SEGMENT_RTOL * segments
    others = [i for i in range(actual.shape[1]) if i not in COS_COLUMNS]
    np.testing.assert_allclose(actual[:, others], desired[:, others], rtol=SEGMENT_RTOL)
    cos_actual, cos_desired = actual[:, COS_COLUMNS], desired[:, COS_COLUMNS]
    np.testing.assert_allclose(cos_actual, cos_desired, rtol=0, atol=cos_atol)


def _nets(net: NetConfig = NET, seed: int = 0) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    return Generator(net), Discriminator(net)


def _clips(counts: list[int], seed: int, isize: int = ISIZE) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n, isize, isize)).astype(np.float32) for n in counts]


@pytest.fixture(scope="module")
def nets() -> tuple[Generator, Discriminator]:
    return _nets()


@pytest.fixture(scope="module")
def train_embeddings(nets) -> np.ndarray:
    return clip_embeddings(nets[1], _clips([3] * 80, seed=1))


# ---------------------------------------------------------------- plain reference


def _reference_segment(generator, discriminator, segment: np.ndarray) -> dict[str, np.ndarray]:
    """docs/method.md section 5 for one segment, unbatched; the distances in float64."""
    x = torch.from_numpy(segment).reshape(1, 1, ISIZE, ISIZE)
    with torch.no_grad():
        z = generator.Encoder(x)
        r = generator.Decoder(z)
        z_r = generator.Encoder(r)
        embedding = discriminator(x)[1]
    x, r = x.double().numpy().ravel(), r.double().numpy().ravel()
    z, z_r = z.double().numpy().ravel(), z_r.double().numpy().ravel()
    return {
        "x_1": np.abs(r - x).sum(),
        "x_2": ((r - x) ** 2).sum(),
        "z_1": np.abs(z_r - z).sum(),
        "z_2": ((z_r - z) ** 2).sum(),
        "z_cos": 1 - z @ z_r / (np.linalg.norm(z) * np.linalg.norm(z_r)),
        "embedding": embedding.double().numpy().ravel(),
    }


def _reference_clip(generator, discriminator, clip: np.ndarray) -> dict[str, np.ndarray | float]:
    generator.eval()
    discriminator.eval()
    segments = [_reference_segment(generator, discriminator, s) for s in clip]
    scores: dict[str, np.ndarray | float] = {}
    for name in SCORE_NAMES:
        if name.startswith("G_"):
            distance, pool = name[2:].rsplit("_", 1)
            values = [segment[distance] for segment in segments]
            scores[name] = {"sum": np.sum, "min": np.min, "max": np.max}[pool](values)
    scores["embedding"] = np.mean([segment["embedding"] for segment in segments], axis=0)
    return scores


def _reference_d_scores(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
    """The original's embedding detectors, built from sklearn as the original builds them."""
    mean = train.mean(axis=0)
    maha = DistanceMetric.get_metric("mahalanobis", V=np.cov(train, rowvar=False))
    knn = NearestNeighbors(n_neighbors=2, metric="cosine").fit(train)
    lof = LocalOutlierFactor(n_neighbors=4, contamination=1e-6, metric="cosine", novelty=True)
    lof.fit(train)
    test64, mean64 = test.astype(np.float64), mean.astype(np.float64)
    cosine = test64 @ mean64 / (np.linalg.norm(test64, axis=1) * np.linalg.norm(mean64))
    return {
        "D_maha": maha.pairwise([mean], test)[0],
        "D_knn": knn.kneighbors(test)[0].sum(-1),
        "D_lof": -lof.score_samples(test),
        "D_cos": 1 - cosine,
    }


# ---------------------------------------------------------------- equality with the definitions


def test_score_clips_equals_the_plain_per_segment_definitions(nets, train_embeddings) -> None:
    generator, discriminator = nets
    clips = _clips([7, 3, 12], seed=2)
    detectors = EmbeddingDetectors(train_embeddings)
    scores = score_clips(generator, discriminator, clips, detectors, batch_size=5)

    assert scores.names == SCORE_NAMES
    assert scores.values.shape == (3, 19) and scores.values.dtype == np.float64
    assert scores.embeddings.shape == (3, EMBEDDING_DIM) and scores.embeddings.dtype == np.float32
    for i, clip in enumerate(clips):
        reference = _reference_clip(generator, discriminator, clip)
        _assert_same_embedding(scores.embeddings[i], reference["embedding"])
        for name in SCORE_NAMES[4:]:
            np.testing.assert_allclose(scores.column(name)[i], reference[name], rtol=SEGMENT_RTOL)
    expected_d = _reference_d_scores(train_embeddings, scores.embeddings)
    for name, expected in expected_d.items():  # float64 from the same float32 embeddings
        np.testing.assert_allclose(scores.column(name), expected, rtol=SEGMENT_RTOL, err_msg=name)


def test_clip_embeddings_are_mean_segment_embeddings(nets) -> None:
    generator, discriminator = nets
    clips = _clips([4, 1, 6], seed=3)
    embeddings = clip_embeddings(discriminator, clips, batch_size=3)
    for clip, embedding in zip(clips, embeddings, strict=True):
        reference = _reference_clip(generator, discriminator, clip)["embedding"]
        _assert_same_embedding(embedding, reference)


@pytest.mark.numerics
@pytest.mark.parametrize("batch_size", [1, 4, 1000])
def test_batch_size_does_not_change_scores(nets, train_embeddings, batch_size: int) -> None:
    generator, discriminator = nets
    clips = _clips([5, 2, 6], seed=2)
    detectors = EmbeddingDetectors(train_embeddings)
    whole = score_clips(generator, discriminator, clips, detectors, batch_size=13)
    split = score_clips(generator, discriminator, clips, detectors, batch_size=batch_size)
    _assert_same_scores(split.values, whole.values, segments=6)
    np.testing.assert_allclose(split.embeddings, whole.embeddings, rtol=SEGMENT_RTOL)


@pytest.mark.numerics
def test_batchnorm_nets_in_training_mode_score_in_eval_mode_and_stay_in_training() -> None:
    generator, discriminator = _nets(NetConfig(isize=ISIZE, nz=16, ndf=8, ngf=8, norm_g="bn"))
    generator.train()
    with torch.no_grad():  # move the running statistics away from their initial values
        generator(torch.rand(16, 1, ISIZE, ISIZE))
    clips = _clips([5, 2], seed=4)
    one_by_one = score_clips(generator, discriminator, clips, batch_size=1)
    all_at_once = score_clips(generator, discriminator, clips, batch_size=64)
    _assert_same_scores(one_by_one.values, all_at_once.values, segments=5)
    assert generator.training and generator.Encoder.main[1].training
    generator.eval()
    reference = _reference_clip(generator, discriminator, clips[0])
    np.testing.assert_allclose(
        one_by_one.column("G_x_2_sum")[0], reference["G_x_2_sum"], rtol=SEGMENT_RTOL
    )


def test_segment_layouts_and_array_kinds_score_alike(nets, tmp_path) -> None:
    generator, discriminator = nets
    clips = _clips([3, 4], seed=5)
    path = tmp_path / "segments.npy"
    np.save(path, np.concatenate(clips))
    mapped = np.load(path, mmap_mode="r")
    as_views = [mapped[:3], mapped[3:]]
    as_tensors = [torch.from_numpy(c).unsqueeze(1) for c in clips]
    plain = score_clips(generator, discriminator, clips, batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's warning about read-only arrays
        from_views = score_clips(generator, discriminator, as_views, batch_size=4)
    from_tensors = score_clips(generator, discriminator, as_tensors, batch_size=4)
    np.testing.assert_array_equal(from_views.values, plain.values)
    np.testing.assert_array_equal(from_tensors.values, plain.values)


# ---------------------------------------------------------------- passes


def test_each_network_part_sees_each_segment_the_minimal_number_of_times() -> None:
    generator, discriminator = _nets()
    seen = {"Encoder": 0, "Decoder": 0, "Discriminator": 0}

    def counter(name: str):
        def hook(module, inputs, output) -> None:
            seen[name] += inputs[0].shape[0]

        return hook

    generator.Encoder.register_forward_hook(counter("Encoder"))
    generator.Decoder.register_forward_hook(counter("Decoder"))
    discriminator.register_forward_hook(counter("Discriminator"))
    counts = [5, 2, 9]
    score_clips(generator, discriminator, _clips(counts, seed=6), batch_size=4)
    total = sum(counts)
    assert seen == {"Encoder": 2 * total, "Decoder": total, "Discriminator": total}

    seen.update(Encoder=0, Decoder=0, Discriminator=0)
    segment_outputs(generator, discriminator, torch.zeros(3, 1, ISIZE, ISIZE))
    assert seen == {"Encoder": 6, "Decoder": 3, "Discriminator": 3}


def test_segment_outputs_track_no_gradients(nets) -> None:
    x = torch.rand(2, 1, ISIZE, ISIZE, requires_grad=True)
    outputs = segment_outputs(*nets, x)
    assert not outputs.x_2.requires_grad and not outputs.embedding.requires_grad


# ---------------------------------------------------------------- NaN and input errors


@pytest.mark.numerics
def test_a_nan_clip_scores_float32_max_without_touching_its_batch_mates(
    nets, train_embeddings
) -> None:
    generator, discriminator = nets
    detectors = EmbeddingDetectors(train_embeddings)
    clips = _clips([3, 4], seed=7)
    clean = score_clips(generator, discriminator, clips[1:], detectors)
    clips[0][1, 5, 5] = np.nan
    scores = score_clips(generator, discriminator, clips, detectors, batch_size=64)
    assert np.all(scores.values[0] == FLOAT32_MAX)
    np.testing.assert_allclose(scores.values[1], clean.values[0], rtol=SEGMENT_RTOL)


def test_without_detectors_d_columns_are_nan_and_g_columns_filled(nets) -> None:
    scores = score_clips(*nets, _clips([2], seed=8))
    assert np.isnan(scores.values[0, :4]).all()
    assert np.isfinite(scores.values[0, 4:]).all()


def test_no_clips_give_empty_tables(nets, train_embeddings) -> None:
    scores = score_clips(*nets, [], EmbeddingDetectors(train_embeddings))
    assert scores.values.shape == (0, 19)
    assert scores.embeddings.shape == (0, EMBEDDING_DIM)


def test_detectors_score_non_finite_embeddings_as_most_anomalous(train_embeddings) -> None:
    detectors = EmbeddingDetectors(train_embeddings)
    embeddings = train_embeddings[:3].copy()
    embeddings[1, 0] = np.nan
    scores = detectors.score(embeddings)
    for name, column in scores.items():
        assert column[1] == FLOAT32_MAX, name
        assert np.all(column[[0, 2]] < FLOAT32_MAX), name


def test_detectors_refuse_diverged_or_too_few_training_embeddings(train_embeddings) -> None:
    broken = train_embeddings.copy()
    broken[0, 0] = np.inf
    with pytest.raises(ModelError):
        EmbeddingDetectors(broken)
    with pytest.raises(DataError):
        EmbeddingDetectors(train_embeddings[:4])
    detectors = EmbeddingDetectors(train_embeddings)
    with pytest.raises(ModelError):
        detectors.score(train_embeddings[:, :10])


@pytest.mark.parametrize(
    "clip",
    [
        np.zeros((3, 16, 16), np.float32),
        np.zeros((3, 2, 32, 32), np.float32),
        np.zeros((0, 32, 32)),
    ],
    ids=["wrong-size", "two-channels", "no-segments"],
)
def test_clips_that_do_not_fit_the_model_raise_a_data_error(nets, clip) -> None:
    with pytest.raises(DataError):
        score_clips(*nets, [_clips([2], seed=9)[0], clip])


def test_score_index_follows_the_original_order_and_rejects_unknown_names() -> None:
    assert [score_index(name) for name in SCORE_NAMES] == list(range(19))
    assert score_index("G_z_cos_min") == 17
    with pytest.raises(UsageError, match="G_z_cos_min"):
        score_index("G_z_cosmin")


def test_progress_counts_finished_clips(nets) -> None:
    calls = []
    score_clips(
        *nets, _clips([3, 3, 3], seed=10), batch_size=4, progress=lambda *a: calls.append(a)
    )
    assert [done for _, done, _ in calls] == [0, 1, 2, 3]
    assert {total for _, _, total in calls} == {3}


# ---------------------------------------------------------------- training-set scores


@pytest.mark.numerics
def test_training_scores_leave_each_clip_out_of_its_own_neighbours(train_embeddings) -> None:
    detectors = EmbeddingDetectors(train_embeddings)
    own = detectors.training_scores()
    unit = train_embeddings / np.linalg.norm(train_embeddings, axis=1, keepdims=True)
    distances = 1 - unit.astype(np.float64) @ unit.T.astype(np.float64)
    np.fill_diagonal(distances, np.inf)
    two_nearest_others = np.sort(distances, axis=1)[:, :2].sum(axis=1)
    # 1 - cos cancels: each cosine, a float32 sum of 32 products of unit vectors, is off by
    # up to reordered_sum_atol(32, 1) in absolute terms, and D_knn adds two of them.
    knn_atol = 2 * reordered_sum_atol(EMBEDDING_DIM, 1.0)
    np.testing.assert_allclose(own["D_knn"], two_nearest_others, rtol=0, atol=knn_atol)
    # as seen clips (self included, at distance 0) they would score lower
    assert np.all(detectors.score(train_embeddings)["D_knn"] < own["D_knn"])
    lof = LocalOutlierFactor(n_neighbors=4, metric="cosine").fit(train_embeddings)
    np.testing.assert_allclose(own["D_lof"], -lof.negative_outlier_factor_, rtol=1e-6)
    seen = detectors.score(train_embeddings)
    np.testing.assert_allclose(own["D_maha"], seen["D_maha"], rtol=1e-9)
    np.testing.assert_allclose(own["D_cos"], seen["D_cos"], rtol=1e-9)


def test_mahalanobis_with_fewer_clips_than_dimensions_still_ranks(train_embeddings) -> None:
    few = train_embeddings[:10]  # 10 clips, 32 dimensions: singular covariance
    detectors = EmbeddingDetectors(few)
    direction = few[0] - few.mean(axis=0)
    far = (few.mean(axis=0) + 10 * direction)[None, :]
    near = detectors.score(few)["D_maha"]
    assert np.all(np.isfinite(near))
    assert detectors.score(far)["D_maha"][0] > near.max()


# ---------------------------------------------------------------- pooling property

TINY = NetConfig(isize=16, nz=8, ndf=4, ngf=4)
TINY_NETS = _nets(TINY, seed=3)


@pytest.mark.numerics
@settings(max_examples=20, deadline=None)
@given(
    counts=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_pooling_over_any_segment_counts_and_batches(counts, batch_size, seed) -> None:
    generator, discriminator = TINY_NETS
    clips = _clips(counts, seed=seed, isize=16)
    scores = score_clips(generator, discriminator, clips, batch_size=batch_size)
    for i, clip in enumerate(clips):
        alone = segment_outputs(generator, discriminator, torch.from_numpy(clip).unsqueeze(1))
        for name in SCORE_NAMES[4:]:
            distance, pool = name[2:].rsplit("_", 1)
            values = getattr(alone, distance).double().numpy()
            expected = {"sum": values.sum(), "min": values.min(), "max": values.max()}[pool]
            np.testing.assert_allclose(scores.column(name)[i], expected, rtol=SEGMENT_RTOL)
        embedding = alone.embedding.double().mean(dim=0).numpy()
        # an element near zero is a sum of terms of the embedding's size: norm-wise atol
        atol = SEGMENT_RTOL * np.abs(embedding).max()
        np.testing.assert_allclose(scores.embeddings[i], embedding, rtol=SEGMENT_RTOL, atol=atol)
