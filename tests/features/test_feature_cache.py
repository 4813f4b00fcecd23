import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan import paths
from aegan.config import schema as config
from aegan.dcase import clips as dcase
from aegan.errors import AudioError, DataError
from aegan.features.audio import read_audio
from aegan.features.cache import FeatureSet, combined_scaler, load_or_compute
from aegan.features.logmel import LogMel
from aegan.features.prepare import prepare_machine, training_sets
from aegan.features.segments import Scaler, segment_view
from tests.conftest import write_tone

SMALL = config.FeatureConfig(n_mels=32, segment_frames=32)
SMALL_SET = ["net.isize=32", "feat.n_mels=32", "feat.segment_frames=32"]


def _clips(root, n=3, seconds=1.5, split="train", label="normal"):
    paths_ = [
        write_tone(
            root / f"dev_data/fan/{split}/section_00_source_{split}_{label}_{i:04d}.wav",
            seconds=seconds + 0.1 * i,  # different lengths on purpose
            freq=300 + 50 * i,
            seed=i,
        )
        for i in range(n)
    ]
    return [dcase.parse_clip_name(p, 2022, "fan", "dev", split) for p in paths_]


def _feature_files():
    """Files of the feature cache, without the (empty, kept) lock files."""
    return sorted(
        p.name
        for p in paths.features_dir().rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    )


def test_features_equal_the_log_mel_of_each_clip(tmp_path):
    clips = _clips(tmp_path)
    cfg = SMALL
    features, cached = load_or_compute(clips, cfg, "dev_train")
    assert not cached and len(features) == 3
    for i, clip in enumerate(clips):
        expected = LogMel(cfg)(torch.from_numpy(read_audio(clip.path, 16000))[None])[0].numpy()
        np.testing.assert_array_equal(features.spectrogram(i), expected)
    assert features.max() == pytest.approx(float(np.max(features.data)))
    assert features.min() == pytest.approx(float(np.min(features.data)))


def test_second_call_reads_the_cache_memory_mapped(tmp_path):
    clips = _clips(tmp_path)
    first, _ = load_or_compute(clips, SMALL, "dev_train")
    again, cached = load_or_compute(clips, SMALL, "dev_train")
    assert cached and isinstance(again.data, np.memmap)
    np.testing.assert_array_equal(first.data, again.data)


def test_changed_file_or_setting_recomputes(tmp_path):
    clips = _clips(tmp_path)
    cfg = SMALL
    before, _ = load_or_compute(clips, cfg, "dev_train")
    before = np.array(before.data)
    write_tone(clips[1].path, seconds=1.6, freq=900.0, seed=99)  # same name, new content
    os.utime(clips[1].path, ns=(1, 1_000_000_000))
    after, cached = load_or_compute(clips, cfg, "dev_train")
    assert not cached and not np.array_equal(before, np.asarray(after.data))
    _, cached = load_or_compute(
        clips, config.FeatureConfig(n_mels=32, segment_frames=32, top_db=60.0), "dev_train"
    )
    assert not cached
    # the outdated entry of the old file is gone; the first settings' entry stays for reuse
    assert len([n for n in _feature_files() if n.endswith(".npy")]) == 2
    _, cached = load_or_compute(clips, cfg, "dev_train")
    assert cached


def test_bad_file_writes_no_cache(tmp_path):
    clips = _clips(tmp_path)
    clips[2].path.write_text("not audio")
    with pytest.raises(AudioError, match=clips[2].path.name):
        load_or_compute(clips, SMALL, "dev_train")
    assert _feature_files() == []


def test_non_finite_features_are_never_cached(tmp_path):
    import dataclasses

    clips = _clips(tmp_path)
    with pytest.raises(DataError, match="not finite .*nothing was cached") as caught:
        load_or_compute(clips, dataclasses.replace(SMALL, top_db=float("nan")), "dev_train")
    assert "feat.top_db=nan" in caught.value.hint
    assert _feature_files() == []


def test_clip_shorter_than_one_segment_is_refused(tmp_path):
    clips = _clips(tmp_path, n=1)
    short = write_tone(
        tmp_path / "dev_data/fan/train/section_00_source_train_normal_0009.wav", seconds=0.9
    )
    clips.append(dcase.parse_clip_name(short, 2022, "fan", "dev", "train"))
    with pytest.raises(
        AudioError, match="0009.wav is too short.*fewer than one 32-frame model input"
    ):
        load_or_compute(clips, SMALL, "dev_train")
    assert _feature_files() == []


@settings(max_examples=30, deadline=None)
@given(
    n_frames=st.integers(8, 60),
    frames=st.integers(1, 8),
    hop=st.integers(1, 5),
)
def test_segments_are_strided_views_of_the_spectrogram(n_frames, frames, hop):
    spec = np.arange(4 * n_frames, dtype=np.float32).reshape(4, n_frames)
    segs = segment_view(spec, frames, hop)
    assert segs.shape == ((n_frames - frames) // hop + 1, 4, frames)
    assert np.shares_memory(segs, spec)
    for s in range(segs.shape[0]):
        np.testing.assert_array_equal(segs[s], spec[:, s * hop : s * hop + frames])


def test_ten_second_clip_gives_186_segments():
    assert len(segment_view(np.zeros((4, 313), np.float32), 128, 1)) == 186


def test_segment_starts_index_every_clip(tmp_path):
    data = np.arange(3 * 10, dtype=np.float32).reshape(3, 10)
    fs = FeatureSet([None, None], data, np.array([0, 4, 10]), db_range=(1.0, 0.0))
    np.testing.assert_array_equal(fs.segment_starts(3, 1), [0, 1, 4, 5, 6, 7])
    np.testing.assert_array_equal(fs.segment_starts(3, 2), [0, 4, 6])


def test_scaler_maps_training_range_to_unit_interval():
    scaler = Scaler(max=10.0, min=-70.0)
    values = np.array([-70.0, -30.0, 10.0])
    np.testing.assert_allclose(scaler(values), [-1.0, 0.0, 1.0])


def test_prepare_machine_uses_training_statistics_of_all_training_sets(tmp_path):
    _clips(tmp_path, n=2)
    _clips(tmp_path, n=2, split="test", label="anomaly")
    for i in range(2):
        write_tone(
            tmp_path / f"eval_data/fan/train/section_03_source_train_normal_{i:04d}.wav",
            seconds=1.5,
            freq=2000.0,
        )
    cfg = config.load_config(22, "fan", overrides=["train_set=deval", *SMALL_SET])
    prepared = prepare_machine(cfg, tmp_path)
    assert set(prepared) == {"dev_train", "eval_train", "dev_test"}
    scaler = combined_scaler(training_sets(prepared))
    both = [prepared["dev_train"].features, prepared["eval_train"].features]
    assert scaler == combined_scaler(both)
    everything = np.concatenate([np.asarray(f.data).ravel() for f in both])
    assert (scaler.max, scaler.min) == (
        pytest.approx(everything.max()),
        pytest.approx(everything.min()),
    )
