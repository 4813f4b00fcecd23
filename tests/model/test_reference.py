"""Length-independent scores: sum columns relative to the reference clip (docs/method.md section 13)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegan.config.schema import FeatureConfig
from aegan.features.logmel import frame_count
from aegan.model.reference import (
    SUM_COLUMNS,
    clip_seconds,
    relative_to_reference,
    require_reference,
    segment_count,
)
from aegan.score_names import FLOAT32_MAX, SCORE_NAMES


def test_the_sum_columns_are_the_five_sum_pooled_g_scores():
    assert [n for n, s in zip(SCORE_NAMES, SUM_COLUMNS, strict=True) if s] == [
        "G_x_2_sum", "G_x_1_sum", "G_z_2_sum", "G_z_1_sum", "G_z_cos_sum",
    ]  # fmt: skip


@given(st.lists(st.integers(1, 2000), min_size=1, max_size=8), st.integers(1, 2000))
def test_only_sum_columns_of_other_lengths_change(counts, reference):
    values = np.random.default_rng(len(counts)).uniform(0, 1e4, (len(counts), len(SCORE_NAMES)))
    out = relative_to_reference(values, np.array(counts), reference)
    same = np.array(counts) == reference
    assert np.array_equal(out[same], values[same])  # reference-length clips: bit for bit
    assert np.array_equal(out[:, ~SUM_COLUMNS], values[:, ~SUM_COLUMNS])
    ratio = reference / np.array(counts, dtype=np.float64)[~same][:, None]
    expected = values[~same][:, SUM_COLUMNS] * ratio
    assert np.array_equal(out[~same][:, SUM_COLUMNS], expected)


def test_a_sum_of_equal_distances_scores_as_the_reference_clip():
    per_segment = 2.5
    counts = np.array([186, 372, 1116])  # 10 s, 20 s and 60 s at the published settings
    values = np.zeros((3, len(SCORE_NAMES)))
    values[:, SUM_COLUMNS] = (per_segment * counts)[:, None]
    out = relative_to_reference(values, counts, 186)
    np.testing.assert_allclose(out[:, SUM_COLUMNS], per_segment * 186, rtol=1e-15)


def test_a_diverged_score_stays_the_maximum():
    values = np.full((1, len(SCORE_NAMES)), FLOAT32_MAX)
    assert np.array_equal(relative_to_reference(values, np.array([10]), 1000), values)


@pytest.mark.parametrize(("hop", "seconds"), [(1, 10.0), (1, 5.0), (1, 11.0), (8, 10.0), (3, 7.3)])
def test_the_reference_clip_lasts_the_training_clips_length(hop, seconds):
    feat = FeatureConfig(segment_hop=hop)
    reference = segment_count(frame_count(round(seconds * 16000), feat.hop_length), feat)
    assert clip_seconds(reference, feat) == seconds


@pytest.mark.parametrize("value", [0, -3, 2.5, "7", True, None])
def test_a_reference_must_be_a_positive_whole_number(value):
    with pytest.raises(ValueError, match="positive whole number"):
        require_reference(value, "reference_segments")
