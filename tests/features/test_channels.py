"""The channel a model hears (``feat.channel``): DCASE 2026's near microphone, or the mix.

A stereo file whose two channels hold different sounds must score, on every
reading path (a file, an array, a timeline, a map, the feature cache), exactly
as its channel 0 alone when the model reads channel 0, and not as the mix.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from aegan.config.keys import to_dict
from aegan.config.schema import MIX, config_from_dict, load_config
from aegan.dcase.clips import Clip
from aegan.detector.detector import Detector
from aegan.detector.localize import localize_file
from aegan.errors import AudioError, ConfigError
from aegan.features.cache import cache_key, load_or_compute
from aegan.synth.sound import synthesize_pcm16
from tests.conftest import SMALL_NET

RATE = 16000


def _sound(seed: int, kind: str | None, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return synthesize_pcm16("fan", "00", 0, kind, rng, int(seconds * RATE), RATE, 1.0)


@pytest.fixture(scope="module")
def stereo(tmp_path_factory):
    """A stereo file (normal fan near, an anomalous, louder one far) and its channel 0 alone."""
    folder = tmp_path_factory.mktemp("stereo")
    near, far = _sound(1, None, 4.0), (_sound(2, "clicks", 4.0) * 0.9).astype(np.int16)
    sf.write(folder / "stereo.wav", np.stack([near, far], axis=1), RATE, subtype="PCM_16")
    sf.write(folder / "near.wav", near, RATE, subtype="PCM_16")
    return folder / "stereo.wav", folder / "near.wav", np.stack([near, far])


@pytest.fixture(scope="module")
def detectors(small_bundle, tmp_path_factory):
    """The same networks reading the mix and reading channel 0 (saved and loaded again)."""
    mixing = Detector.load_file(small_bundle)
    near = Detector.load_file(small_bundle)
    near.cfg = dataclasses.replace(near.cfg, feat=dataclasses.replace(near.cfg.feat, channel=0))
    path = near.save(tmp_path_factory.mktemp("near") / "near.safetensors")
    return mixing, Detector.load_file(path)


def test_dcase_2026_reads_the_near_microphone_and_other_editions_the_mix():
    assert load_config(26, "fan").feat.channel == 0
    assert load_config(26, "Sander").feat.channel == 0
    for year in (20, 22, 24, 25):
        assert load_config(year, "fan").feat.channel == MIX
    assert load_config(26, "fan", overrides=["feat.channel=mix"]).feat.channel == MIX
    assert load_config(22, "fan", overrides=["feat.channel=1"]).feat.channel == 1
    with pytest.raises(ConfigError, match="'mix' .* or a channel index"):
        load_config(26, "fan", overrides=["feat.channel=near"])


def test_a_bundle_keeps_its_channel_and_an_older_bundle_mixes(detectors):
    assert detectors[1].cfg.feat.channel == 0
    saved = to_dict(load_config(26, "fan"))
    assert config_from_dict(saved).feat.channel == 0
    del saved["feat"]["channel"]  # a bundle written before the setting: trained on the mix
    assert config_from_dict(saved).feat.channel == MIX


def test_a_stereo_file_scores_as_its_channel_0_alone(detectors, stereo):
    mixing, near = detectors
    stereo_path, near_path, samples = stereo
    alone = mixing.score(near_path)  # a mono file: the mix is the channel
    assert near.score(stereo_path) == alone
    assert near.score(samples) == alone  # a (channels, N) array, as the file
    assert near.score(samples.T.copy()[:, 0]) == alone
    assert mixing.score(stereo_path) != pytest.approx(alone, rel=1e-3)  # the mix differs
    results = near.score_items([stereo_path, near_path])
    assert results[0].score == results[1].score == alone


def test_a_long_stereo_recording_and_its_map_read_channel_0(detectors, stereo):
    mixing, near = detectors
    stereo_path, near_path, _ = stereo
    of_stereo, of_near = near.timeline(stereo_path, hop=1.0), mixing.timeline(near_path, hop=1.0)
    assert [w.score for w in of_stereo.windows] == [w.score for w in of_near.windows]
    assert [w.score for w in mixing.timeline(stereo_path, hop=1.0).windows] != [
        w.score for w in of_near.windows
    ]
    for start, end in ((None, None), (0.5, 3.0)):
        a = localize_file(near, stereo_path, start=start, end=end)
        b = localize_file(mixing, near_path, start=start, end=end)
        np.testing.assert_array_equal(a.anomaly_map, b.anomaly_map)


def test_cached_features_are_of_the_channel_and_keyed_by_it(stereo):
    stereo_path, near_path, _ = stereo
    clip, alone = (
        Clip(path=p, year=2026, machine="fan", subset="dev", split="test", group="00", index="0")
        for p in (stereo_path, near_path)
    )
    near, mixing = (load_config(year, "fan", overrides=SMALL_NET).feat for year in (26, 22))
    assert cache_key([clip], near) != cache_key([clip], mixing)
    of_stereo, cached = load_or_compute([clip], near, "stereo")
    assert not cached
    np.testing.assert_array_equal(of_stereo.data, load_or_compute([alone], near, "near")[0].data)
    of_mix, cached = load_or_compute([clip], mixing, "stereo")
    assert not cached and not np.array_equal(of_mix.data, of_stereo.data)


def test_a_model_of_channel_1_hears_the_far_channel_and_refuses_a_mono_file(
    small_bundle, detectors, stereo
):
    far = Detector.load_file(small_bundle)
    far.cfg = dataclasses.replace(far.cfg, feat=dataclasses.replace(far.cfg.feat, channel=1))
    _, near_path, samples = stereo
    assert far.score(samples) == detectors[0].score(samples[1].copy())
    with pytest.raises(AudioError, match="has 1 channel, but the model reads channel 1"):
        far.score(near_path)
    with pytest.raises(AudioError, match="has 1 channel"):
        far.timeline(near_path)
    with pytest.raises(AudioError, match="has 1 channel"):
        far.score(samples[0].copy())


def test_config_show_states_the_channel(runner):
    from aegan.cli import app

    for year, shown in (("26", "channel: 0"), ("22", "channel: mix")):
        result = runner.invoke(app, ["config", "show", "fan", "--year", year])
        assert result.exit_code == 0, result.output
        assert shown in result.stdout
