"""A bundle with non-finite tensors or a degenerate scaler is refused on load, naming its path."""

from __future__ import annotations

import pytest

from aegan.bundles.format import read_bundle
from aegan.errors import ModelError
from tests.conftest import rewrite_bundle


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_bundle_with_non_finite_weights_is_refused(small_bundle, tmp_path, value):
    bad = rewrite_bundle(small_bundle, tmp_path / "nan.safetensors", tensor=value)
    with pytest.raises(ModelError, match=r"nan\.safetensors: its tensor netG\..* NaN or infinity"):
        read_bundle(bad)


@pytest.mark.parametrize(
    "scaler",
    [{"max": 1.0, "min": 1.0}, {"max": -5.0, "min": 3.0}, {"max": float("nan"), "min": 0.0}],
)
def test_a_degenerate_scaler_is_refused(small_bundle, tmp_path, scaler):
    bad = rewrite_bundle(small_bundle, tmp_path / "flat.safetensors", scaler=scaler)
    with pytest.raises(ModelError, match=r"flat\.safetensors: its scaler is degenerate"):
        read_bundle(bad)


def test_the_intact_bundle_still_loads(small_bundle):
    assert read_bundle(small_bundle).scaler.max > read_bundle(small_bundle).scaler.min


def _with_metadata(source, target, **entries):
    """A copy of a bundle with metadata entries replaced (None removes one)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), framework="pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    for key, value in entries.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    save_file(tensors, str(target), metadata=metadata)
    return target


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ({"version": "abc"}, "its version 'abc' is not a version number"),
        ({"config": "[1, 2]"}, "'config': a JSON object was expected, not list"),
        ({"scaler": "[0.0, 1.0]"}, "'scaler': a JSON object was expected, not list"),
        ({"provenance": "3"}, "'provenance': a JSON object was expected, not int"),
        ({"config": "{not json"}, "missing or invalid entry"),
        ({"config": '{"year": 1999, "machine": "fan"}'}, "its config is invalid"),
        ({"reference_segments": "0"}, "'reference_segments': '0' is not a positive whole number"),
        ({"reference_segments": "ten"}, "'reference_segments': 'ten' is not a positive"),
    ],
)
def test_malformed_headers_are_one_model_error_naming_the_file(
    small_bundle, tmp_path, entries, reason
):
    bad = _with_metadata(small_bundle, tmp_path / "odd.safetensors", **entries)
    with pytest.raises(ModelError, match="odd.safetensors") as caught:
        read_bundle(bad)
    assert reason in caught.value.message


def test_the_reference_is_stored_and_older_bundles_fall_back(small_bundle, tmp_path):
    from aegan.detector.detector import Detector

    stored = Detector.load(small_bundle)
    assert read_bundle(small_bundle).reference_segments == stored.reference_segments
    older = Detector.load(_with_metadata(small_bundle, tmp_path / "old.safetensors",
                                         reference_segments=None))  # fmt: skip
    assert read_bundle(tmp_path / "old.safetensors").reference_segments is None
    # without it: the training clips' length, as the mean training spectrogram records it
    assert older.reference_segments == stored.reference_segments == 16  # 1.5 s: 47 - 32 + 1
    moved = _with_metadata(small_bundle, tmp_path / "ref.safetensors", reference_segments="40")
    assert Detector.load(moved).reference_segments == 40


def test_unscored_training_clips_may_be_nan_but_infinity_is_refused(small_bundle, tmp_path):
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(small_bundle), framework="pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    metadata.pop("digest")  # tensors edited by hand: as a bundle written before digests
    tensors["train_scores"][1:3] = float("nan")  # rows outside the threshold subset
    save_file(tensors, str(tmp_path / "subset.safetensors"), metadata=metadata)
    assert read_bundle(tmp_path / "subset.safetensors").train_scores.shape[0] > 3
    tensors["train_scores"][0, 0] = torch.inf
    save_file(tensors, str(tmp_path / "inf.safetensors"), metadata=metadata)
    with pytest.raises(ModelError, match="its tensor train_scores holds NaN or infinity"):
        read_bundle(tmp_path / "inf.safetensors")


def test_a_bundle_whose_tensors_changed_after_writing_is_refused(small_bundle, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(small_bundle), framework="pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    tensors["train_scores"][0, 0] += 1.0  # a finite, plausible edit: only the digest tells
    save_file(tensors, str(tmp_path / "edited.safetensors"), metadata=metadata)
    with pytest.raises(ModelError, match="its tensors do not match the digest it was written"):
        read_bundle(tmp_path / "edited.safetensors")
    assert read_bundle(small_bundle).train_scores.shape == tensors["train_scores"].shape
