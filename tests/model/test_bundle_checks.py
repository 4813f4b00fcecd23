"""A bundle with non-finite tensors or a degenerate scaler is refused on load, naming its path."""

from __future__ import annotations

import pytest

from aegan.errors import ModelError
from aegan.model.bundle import read_bundle
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
