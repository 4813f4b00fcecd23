"""A bundle with non-finite tensors or a degenerate scaler is refused on load, naming its path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from aegan.errors import ModelError
from aegan.model.bundle import read_bundle


def rewrite_bundle(source: Path, target: Path, tensor=None, scaler=None) -> Path:
    """A copy of ``source`` with one tensor filled with ``tensor`` and/or another scaler."""
    with safe_open(str(source), framework="pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    if tensor is not None:
        key = next(k for k in tensors if k.startswith("netG.") and tensors[k].is_floating_point())
        tensors[key] = torch.full_like(tensors[key], tensor)
    if scaler is not None:
        metadata["scaler"] = json.dumps(scaler)
    save_file(tensors, str(target), metadata=metadata)
    return target


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
