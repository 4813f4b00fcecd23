"""Memory estimates made before training and scoring, and the refusal above free memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aegan.config import schema as config
from aegan.detector.detector import Detector
from aegan.model import footprint
from aegan.model.nets import Discriminator, Generator
from tests.conftest import SMALL_NET


def counted_forward(module: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(sum, largest) of the elements of every output a real forward pass allocates."""
    sizes = []
    for layer in (m for m in module.modules() if not list(m.children())):
        if not getattr(layer, "inplace", False):
            layer.register_forward_hook(
                lambda _m, _i, out: sizes.extend(
                    o.numel() for o in (out if isinstance(out, tuple) else (out,))
                )
            )
    module(x)
    return sum(sizes), max(sizes)


@pytest.mark.parametrize(
    "overrides",
    [SMALL_NET, [*SMALL_NET, "net.norm_g=bn", "net.norm_d=in", "net.first_norm=false"],
     ["net.isize=64", "feat.n_mels=64", "feat.segment_frames=64", "net.ndf=4", "net.ngf=4"]],
)  # fmt: skip
def test_the_estimate_counts_what_a_real_forward_pass_allocates(overrides):
    cfg = config.load_config(22, "fan", None, overrides)
    gen, critic, params = footprint.per_sample(cfg.net)
    torch.manual_seed(0)
    real_gen, real_critic = Generator(cfg.net), Discriminator(cfg.net)
    x = torch.zeros(1, 1, cfg.net.isize, cfg.net.isize)
    with torch.no_grad():
        assert (gen.total, gen.largest) == counted_forward(real_gen, x)
        assert (critic.total, critic.largest) == counted_forward(real_critic, x)
    assert params == sum(p.numel() for m in (real_gen, real_critic) for p in m.parameters())


def test_training_memory_grows_with_the_batch_and_is_refused_above_free_memory(monkeypatch):
    cfg = config.load_config(22, "fan", None, ["train.batch_size=64"])
    small = footprint.training_bytes(cfg, feature_bytes=0)
    per_batch = {}
    for size in (0, 64, 128):
        cfg.train.batch_size = size
        per_batch[size] = footprint.training_bytes(cfg, feature_bytes=1000)
    assert per_batch[128] - per_batch[64] == per_batch[64] - per_batch[0] > 0  # per sample
    assert per_batch[64] == small + 1000
    monkeypatch.setattr(footprint, "available_host_bytes", lambda: small)
    footprint.require_memory(small, torch.device("cpu"), "Training", "hint")  # just fits
    with pytest.raises(footprint.MemoryShortfall, match=r"Training would need about \d+\.\d GB"):
        footprint.require_memory(small + 1, torch.device("cpu"), "Training", "hint")


def test_scoring_is_refused_before_any_batch_when_memory_is_short(small_bundle, monkeypatch):
    detector = Detector.load(small_bundle)
    spectrogram = np.zeros((32, 64), np.float32)
    monkeypatch.setattr(footprint, "available_host_bytes", lambda: 1 << 10)
    with pytest.raises(
        footprint.MemoryShortfall,
        match=r"Scoring in batches of 256 segments "
        r"would need about 0\.\d GB of memory, more than the 0\.0 GB free on CPU",
    ):
        detector.score_spectrograms([spectrogram])
    monkeypatch.setattr(footprint, "available_host_bytes", lambda: None)  # unknown: no refusal
    assert detector.score_spectrograms([spectrogram]).values.shape == (1, 19)
