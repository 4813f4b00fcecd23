"""Two-microphone synthetic clips, like DCASE 2026's: the machine near and far."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from aegan.dcase.clips import discover
from aegan.errors import UsageError
from aegan.synth.dataset import SynthSpec, write_dataset

SPEC = dict(
    year=2026, machines=("fan",), seconds=1.0, sample_rate=8000, train_source=3,
    train_target=1, test_normal=1, test_anomaly=1, subsets=("dev",), seed=3,
)  # fmt: skip


def test_clips_have_a_near_and_a_far_channel_and_repeat_exactly(tmp_path):
    write_dataset(tmp_path / "a", SynthSpec(**SPEC, far_noise_db=-6.0))
    write_dataset(tmp_path / "b", SynthSpec(**SPEC, far_noise_db=-6.0))
    write_dataset(tmp_path / "mono", SynthSpec(**SPEC))
    clips = discover(tmp_path / "a", 2026, "fan", "dev", "train")
    assert len(clips) == 4
    for clip in clips:
        data, _ = sf.read(str(clip.path), always_2d=True)
        assert data.shape[1] == 2
        near, far = np.sqrt(np.mean(data**2, axis=0))
        assert near > far  # the machine is quieter at the far microphone
        again, _ = sf.read(str(tmp_path / "b" / clip.path.relative_to(tmp_path / "a")))
        np.testing.assert_array_equal(again, data)
        mono, _ = sf.read(str(tmp_path / "mono" / clip.path.relative_to(tmp_path / "a")))
        assert mono.ndim == 1


def test_a_far_noise_level_out_of_range_is_refused():
    with pytest.raises(UsageError, match="far_noise_db must be in"):
        SynthSpec(**SPEC, far_noise_db=100.0)
