"""Scoring copies of the networks compute what the networks compute, and leave them untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aegan.config.schema import MIN_ISIZE, NetConfig
from aegan.model.inference import scoring_discriminator, scoring_generator
from aegan.model.nets import Discriminator, Generator

FLOAT64_RTOL = 1e-10
"""Both sides in float64: folding and reordering move a value by far less than this."""

NORMS = [("ln", "ln", True), ("bn", "ln", True), ("ln", "ln", False), ("in", "bn", True)]


def _trained_looking(module: nn.Module, seed: int) -> nn.Module:
    """Norm layers with running statistics and affine weights away from their initial values,
    so that folding them has something to fold."""
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5, generator=generator)
            layer.running_var.uniform_(0.5, 2.0, generator=generator)
        if isinstance(layer, (nn.BatchNorm2d, nn.LayerNorm)):
            with torch.no_grad():
                layer.weight.uniform_(0.5, 1.5, generator=generator)
                layer.bias.uniform_(-0.3, 0.3, generator=generator)
    return module


def _nets(net: NetConfig) -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    generator = _trained_looking(Generator(net), seed=1).double().eval()
    discriminator = _trained_looking(Discriminator(net), seed=2).double().eval()
    return generator, discriminator


@pytest.mark.parametrize(("norm_g", "norm_d", "first_norm"), NORMS)
@pytest.mark.parametrize("isize", [MIN_ISIZE, 32])
def test_scoring_copies_compute_the_same_codes_maps_and_embeddings(
    norm_g: str, norm_d: str, first_norm: bool, isize: int
) -> None:
    net = NetConfig(isize, 16, 8, 8, norm_g=norm_g, norm_d=norm_d, first_norm=first_norm)
    generator, discriminator = _nets(net)
    fast_generator, fast_discriminator = (
        scoring_generator(generator),
        scoring_discriminator(discriminator),
    )
    x = torch.rand(
        6, 1, isize, isize, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    x = x * 2 - 1
    with torch.no_grad():
        z, fast_z = generator.encode(x), fast_generator.encode(x)
        r, fast_r = generator.decode(z), fast_generator.decode(z)
        (critic, embedding), (fast_critic, fast_embedding) = discriminator(x), fast_discriminator(x)
    for fast, plain in (
        (fast_z, z),
        (fast_r, r),
        (fast_critic, critic),
        (fast_embedding, embedding),
    ):
        assert fast.shape == plain.shape
        torch.testing.assert_close(fast, plain, rtol=FLOAT64_RTOL, atol=0)


def test_scoring_copies_leave_the_networks_as_they_were() -> None:
    generator, discriminator = _nets(NetConfig(isize=32, nz=16, ndf=8, ngf=8, norm_g="bn"))
    generator.train()
    before = {name: value.clone() for name, value in generator.state_dict().items()}
    fast = scoring_generator(generator)
    scoring_discriminator(discriminator)
    assert generator.training and generator.Encoder.main[1].training
    after = generator.state_dict()
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert torch.equal(after[name], value), name
        assert after[name].is_contiguous(), name
    assert not fast.training
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert all(not p.requires_grad for p in fast.parameters())


def test_a_scoring_copy_is_reused_until_the_weights_change() -> None:
    generator, _ = _nets(NetConfig(isize=32, nz=16, ndf=8, ngf=8, norm_g="bn"))
    first = scoring_generator(generator)
    assert scoring_generator(generator) is first
    x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        generator.Encoder.main[0].weight.mul_(2)  # as an optimiser step does: in place
        changed = scoring_generator(generator)
        assert changed is not first
        torch.testing.assert_close(
            changed.encode(x), generator.encode(x), rtol=FLOAT64_RTOL, atol=0
        )
