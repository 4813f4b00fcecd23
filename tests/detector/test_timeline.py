"""Long recordings: length-independent scores and timelines (docs/method.md section 13).

A small model calibrated on 10-second synthetic fan clips scores a 60-second
recording made of six such clips, with and without an anomalous clip in the
middle. Segments every 8 frames keep it fast; the rules do not depend on it.
"""

import numpy as np
import pytest
import soundfile as sf
import torch

from aegan.calibration.calibrate import calibrate
from aegan.config.schema import load_config
from aegan.errors import UsageError
from aegan.features.cache import FeatureSet
from aegan.features.logmel import LogMel
from aegan.model.nets import Discriminator, Generator
from aegan.synth.sound import synthesize_pcm16
from tests.conftest import SMALL_NET, labelled_test_clip

RATE = 16000
CLIP = 10 * RATE
SUM_SCORE = "G_z_1_sum"  # the 2022 default: a sum over segments, the length-dependent kind


def _clip(seed: int, kind: str | None = None, strength: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return synthesize_pcm16("fan", "00", 0, kind, rng, CLIP, RATE, strength)


@pytest.fixture(scope="module")
def detector():
    """An untrained tiny model calibrated on 24 normal 10-s clips; D_knn separates clicks."""
    cfg = load_config(
        22,
        "fan",
        overrides=[*SMALL_NET, "train_set=dev", "feat.segment_hop=8", "detect.score=D_knn"],
    )
    logmel = LogMel(cfg.feat)
    specs = [
        logmel(torch.from_numpy(_clip(s) / np.float32(32768))[None])[0].numpy() for s in range(24)
    ]
    offsets = np.cumsum([0] + [s.shape[1] for s in specs])
    clips = [labelled_test_clip(2022, "fan", "00", i, "source", 0) for i in range(24)]
    features = FeatureSet(clips, np.concatenate(specs, axis=1), offsets)
    torch.manual_seed(0)
    return calibrate(cfg, Generator(cfg.net), Discriminator(cfg.net), [features])


@pytest.fixture(scope="module")
def parts():
    return [_clip(100 + i) for i in range(6)]


def _write(path, samples):
    sf.write(str(path), samples, RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def normal_minute(parts, tmp_path_factory):
    return _write(tmp_path_factory.mktemp("long") / "normal.wav", np.concatenate(parts))


@pytest.fixture(scope="module")
def anomalous_minute(parts, tmp_path_factory):
    clicks = _clip(300, "clicks", 3.0)
    samples = np.concatenate([*parts[:2], clicks, *parts[3:]])
    return _write(tmp_path_factory.mktemp("long") / "anomalous.wav", samples)


def test_the_reference_clip_is_the_training_clips_length(detector):
    assert detector.reference_segments == 36  # (313 frames - 32) // 8 + 1
    assert detector.clip_seconds == 10.0


def test_a_minute_of_normal_clips_scores_like_its_parts(detector, parts, normal_minute):
    whole = detector.score(normal_minute, score=SUM_SCORE)
    each = detector.score(parts, score=SUM_SCORE)  # int16 arrays, scaled as a WAV reader does
    assert whole == pytest.approx(each.mean(), rel=0.03)
    assert not detector.decide(whole, SUM_SCORE)
    assert not detector.decide(detector.score(normal_minute))


def test_its_timeline_shows_six_normal_windows_scored_as_the_clips(detector, parts, normal_minute):
    timeline = detector.timeline(normal_minute)
    assert [w.start for w in timeline.windows] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert [w.decision for w in timeline.windows] == ["normal"] * 6
    assert not timeline.anomalous
    np.testing.assert_array_equal([w.score for w in timeline.windows], detector.score(parts))


def test_the_timeline_flags_the_anomalous_window_and_no_other(detector, anomalous_minute):
    timeline = detector.timeline(anomalous_minute)
    assert [w.anomalous for w in timeline.windows] == [False, False, True, False, False, False]
    assert timeline.worst.start == 20.0 and timeline.worst.end == 30.0
    assert timeline.to_dict()["worst"]["decision"] == "anomaly"


def test_overlapping_windows_score_as_the_same_stretch_cut_out(detector, parts, normal_minute):
    timeline = detector.timeline(normal_minute, hop=7.5, start=5, end=32, score=SUM_SCORE)
    starts = [w.start for w in timeline.windows]
    assert starts == [5.0, 12.5, 20.0, 22.0]  # the last ends on the stretch's end
    samples = np.concatenate(parts)
    cut = [samples[round(s * RATE) : round(s * RATE) + CLIP] for s in starts]
    np.testing.assert_array_equal(
        [w.score for w in timeline.windows], detector.score(cut, score=SUM_SCORE)
    )


def test_a_stretch_of_the_file(detector, parts, normal_minute):
    timeline = detector.timeline(normal_minute, start=20, end=40)
    assert [(w.start, w.end) for w in timeline.windows] == [(20.0, 30.0), (30.0, 40.0)]
    assert [w.score for w in timeline.windows] == list(detector.score(parts[2:4]))


def test_a_recording_shorter_than_a_window_is_one_window(detector, parts, tmp_path):
    short = _write(tmp_path / "short.wav", parts[0][: 6 * RATE])
    (window,) = detector.timeline(short).windows
    assert (window.start, window.end) == (0.0, 6.0)
    assert window.score == detector.score(short)


def test_a_silent_stretch_is_reported_and_the_rest_scored(detector, parts, tmp_path):
    samples = np.concatenate([parts[0], np.zeros(CLIP, np.int16), parts[1]])
    timeline = detector.timeline(_write(tmp_path / "gap.wav", samples))
    assert [w.error is None for w in timeline.windows] == [True, False, True]
    assert "digital silence" in timeline.windows[1].error and "10.00 s" in timeline.windows[1].error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hop": 0}, "hop must be a positive"),
        ({"hop": float("nan")}, "hop must be a positive"),
        ({"start": 30, "end": 20}, "before the end"),
        ({"start": -1}, "at least 0"),
        ({"end": 61}, "lasts 60.00 s"),
    ],
)
def test_bad_window_options_are_usage_errors(detector, normal_minute, options, message):
    with pytest.raises(UsageError, match=message):
        detector.timeline(normal_minute, **options)


def test_clips_of_the_training_length_keep_todays_scores_bit_for_bit(detector, parts):
    from aegan.features.segments import segment_view
    from aegan.model.scores import score_clips

    spectrograms = detector.log_mel([p / np.float32(32768) for p in parts[:2]])
    feat = detector.cfg.feat
    today = score_clips(
        detector.generator, detector.discriminator,
        [segment_view(s, feat.segment_frames, feat.segment_hop) for s in spectrograms],
        detector.embedding_detectors, transform=detector.scaler,
    )  # fmt: skip
    np.testing.assert_array_equal(detector.score_spectrograms(spectrograms).values, today.values)
