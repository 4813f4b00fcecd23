"""The networks: checkpoint-compatible names and shapes, output shapes, initialisation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from aegan.config.schema import NetConfig
from aegan.errors import ModelError
from aegan.model.nets import (
    Discriminator,
    Generator,
    embedding_dim,
    forward_flops,
    segment_flops,
)

# The published checkpoints' state-dict entries, written out from docs/method.md section 3
# (isize 128, nz 256, ndf 32, ngf 32), independently of aegan.model.nets.


def _ln(prefix: str, shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    return [(f"{prefix}.weight", shape), (f"{prefix}.bias", shape)]


def _bn(prefix: str, channels: int) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (f"{prefix}.weight", (channels,)),
        (f"{prefix}.bias", (channels,)),
        (f"{prefix}.running_mean", (channels,)),
        (f"{prefix}.running_var", (channels,)),
        (f"{prefix}.num_batches_tracked", ()),
    ]


GENERATOR_2022_NO_FIRST_NORM_LN = [
    ("Encoder.main.0.weight", (32, 1, 4, 4)),
    ("Encoder.main.2.weight", (64, 32, 4, 4)),
    *_ln("Encoder.main.3", (64, 32, 32)),
    ("Encoder.main.5.weight", (128, 64, 4, 4)),
    *_ln("Encoder.main.6", (128, 16, 16)),
    ("Encoder.main.8.weight", (256, 128, 4, 4)),
    *_ln("Encoder.main.9", (256, 8, 8)),
    ("Encoder.main.11.weight", (512, 256, 4, 4)),
    *_ln("Encoder.main.12", (512, 4, 4)),
    ("Encoder.main.14.weight", (256, 512, 4, 4)),
    ("Decoder.main.0.weight", (256, 512, 4, 4)),
    *_ln("Decoder.main.1", (512, 4, 4)),
    ("Decoder.main.3.weight", (512, 256, 4, 4)),
    *_ln("Decoder.main.4", (256, 8, 8)),
    ("Decoder.main.6.weight", (256, 128, 4, 4)),
    *_ln("Decoder.main.7", (128, 16, 16)),
    ("Decoder.main.9.weight", (128, 64, 4, 4)),
    *_ln("Decoder.main.10", (64, 32, 32)),
    ("Decoder.main.12.weight", (64, 32, 4, 4)),
    *_ln("Decoder.main.13", (32, 64, 64)),
    ("Decoder.main.15.weight", (32, 1, 4, 4)),
]

GENERATOR_FIRST_NORM_BN = [
    ("Encoder.main.0.weight", (32, 1, 4, 4)),
    *_bn("Encoder.main.1", 32),
    ("Encoder.main.3.weight", (64, 32, 4, 4)),
    *_bn("Encoder.main.4", 64),
    ("Encoder.main.6.weight", (128, 64, 4, 4)),
    *_bn("Encoder.main.7", 128),
    ("Encoder.main.9.weight", (256, 128, 4, 4)),
    *_bn("Encoder.main.10", 256),
    ("Encoder.main.12.weight", (512, 256, 4, 4)),
    *_bn("Encoder.main.13", 512),
    ("Encoder.main.15.weight", (256, 512, 4, 4)),
    ("Decoder.main.0.weight", (256, 512, 4, 4)),
    *_bn("Decoder.main.1", 512),
    ("Decoder.main.3.weight", (512, 256, 4, 4)),
    *_bn("Decoder.main.4", 256),
    ("Decoder.main.6.weight", (256, 128, 4, 4)),
    *_bn("Decoder.main.7", 128),
    ("Decoder.main.9.weight", (128, 64, 4, 4)),
    *_bn("Decoder.main.10", 64),
    ("Decoder.main.12.weight", (64, 32, 4, 4)),
    *_bn("Decoder.main.13", 32),
    ("Decoder.main.15.weight", (32, 1, 4, 4)),
]

DISCRIMINATOR_LN = [
    ("main.0.0.weight", (32, 1, 4, 4)),
    *_ln("main.0.1", (32, 64, 64)),
    ("main.1.0.weight", (64, 32, 4, 4)),
    *_ln("main.1.1", (64, 32, 32)),
    ("main.2.0.weight", (128, 64, 4, 4)),
    *_ln("main.2.1", (128, 16, 16)),
    ("main.3.0.weight", (256, 128, 4, 4)),
    *_ln("main.3.1", (256, 8, 8)),
    ("main.4.0.weight", (512, 256, 4, 4)),
    *_ln("main.4.1", (512, 4, 4)),
    ("feat_extract_layer.0.weight", (512, 1, 4, 4)),
    ("output_layer.0.weight", (512,)),
    ("output_layer.0.bias", (512,)),
    ("output_layer.2.weight", (1, 512)),
    ("output_layer.2.bias", (1,)),
]


def _random_state_dict(entries: list[tuple[str, tuple[int, ...]]]) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, shape in entries:
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7)
        else:
            state[name] = torch.rand(shape, generator=generator) + 0.5
    return state


@pytest.mark.parametrize(
    ("module", "net", "entries"),
    [
        (Generator, NetConfig(first_norm=False), GENERATOR_2022_NO_FIRST_NORM_LN),
        (Generator, NetConfig(norm_g="bn"), GENERATOR_FIRST_NORM_BN),
        (Discriminator, NetConfig(), DISCRIMINATOR_LN),
    ],
    ids=["generator-2022-ln", "generator-bn", "discriminator"],
)
def test_published_checkpoint_state_dicts_load_strictly(module, net, entries) -> None:
    model = module(net)
    state = _random_state_dict(entries)
    model.load_state_dict(state, strict=True)
    loaded = model.state_dict()
    assert list(loaded) == [name for name, _ in entries]
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor), name


@pytest.mark.parametrize(("isize", "ndf", "nz"), [(128, 32, 256), (32, 8, 16)])
def test_output_shapes(isize: int, ndf: int, nz: int) -> None:
    net = NetConfig(isize=isize, nz=nz, ndf=ndf, ngf=ndf)
    generator, discriminator = Generator(net), Discriminator(net)
    x = torch.rand(3, 1, isize, isize) * 2 - 1
    with torch.no_grad():
        z = generator.encode(x)
        reconstruction = generator(x)
        critic, embedding = discriminator(x)
    assert z.shape == (3, nz, 1, 1)
    assert generator.decode(z).shape == reconstruction.shape == x.shape
    assert reconstruction.abs().max() <= 1  # the decoder ends in tanh
    assert critic.shape == (3, 1)
    assert embedding.shape == (3, embedding_dim(net)) == (3, ndf * isize // 8)


def test_embedding_of_the_published_size_is_512() -> None:
    assert embedding_dim(NetConfig()) == 512


def _weights(model: nn.Module, kinds: tuple[type, ...]) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kinds)]


def test_initialisation_follows_the_original() -> None:
    torch.manual_seed(1)
    net = NetConfig(norm_g="bn")
    models = [Generator(net), Discriminator(net)]
    convs = [m for model in models for m in _weights(model, (nn.Conv2d, nn.ConvTranspose2d))]
    conv_weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(conv_weights.mean().item()) < 1e-3
    assert conv_weights.std().item() == pytest.approx(0.02, rel=0.02)
    batch_norms = _weights(models[0], (nn.BatchNorm2d,))
    bn_weights = torch.cat([m.weight for m in batch_norms])
    assert bn_weights.mean().item() == pytest.approx(1.0, abs=2e-3)
    assert bn_weights.std().item() == pytest.approx(0.02, rel=0.1)
    assert all(torch.all(m.bias == 0) for m in batch_norms)
    layer_norms = _weights(models[1], (nn.LayerNorm,))
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in layer_norms)


NORM_TYPES = {"ln": nn.LayerNorm, "bn": nn.BatchNorm2d, "in": nn.InstanceNorm2d}


@pytest.mark.parametrize("first_norm", [True, False])
@pytest.mark.parametrize("norm", ["ln", "bn", "in"])
def test_every_normalisation_builds_and_runs(norm: str, first_norm: bool) -> None:
    net = NetConfig(isize=32, nz=16, ndf=8, ngf=8, norm_g=norm, norm_d=norm, first_norm=first_norm)
    generator, discriminator = Generator(net), Discriminator(net)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    assert generator(x).shape == x.shape
    assert discriminator(x)[1].shape == (2, 32)
    norm_type = NORM_TYPES[norm]
    # 32 -> 16 -> 8 -> 4: three encoder norms (one dropped without first_norm); the
    # decoder normalises 4, 8, 16; the discriminator's stages 16, 8, 4.
    assert len(_weights(generator.Encoder, (norm_type,))) == 3 - (not first_norm)
    assert len(_weights(generator.Decoder, (norm_type,))) == 3
    assert len(_weights(discriminator.main, (norm_type,))) == 3


@pytest.mark.parametrize("activations", [("relu", "tanh"), ("tanh", "leakyrelu")])
def test_activations_are_configurable(activations: tuple[str, str]) -> None:
    net = NetConfig(isize=16, nz=8, ndf=4, ngf=4, act_enc=activations[0], act_dec=activations[1])
    generator = Generator(net)
    kinds = {"relu": nn.ReLU, "tanh": nn.Tanh, "leakyrelu": nn.LeakyReLU}
    assert isinstance(generator.Encoder.main[2], kinds[activations[0]])
    assert isinstance(generator.Decoder.main[2], kinds[activations[1]])


@pytest.mark.parametrize(
    "net",
    [NetConfig(isize=100), NetConfig(isize=4), NetConfig(ngf=1), NetConfig(norm_g="group")],
    ids=["not-power-of-two", "too-small", "ngf-1", "unknown-norm"],
)
def test_unbuildable_configs_raise_a_model_error(net: NetConfig) -> None:
    with pytest.raises(ModelError):
        Generator(net)


def test_forward_flops_counts_each_layer_kind_by_its_multiply_adds():
    net = nn.Sequential(
        nn.Conv2d(3, 5, 3, padding=1), nn.ConvTranspose2d(5, 2, 4, 2, 1), nn.Flatten(),
        nn.Linear(2 * 16 * 16, 7),
    )  # fmt: skip
    output, flops = forward_flops(net, torch.zeros(2, 3, 8, 8))
    per_sample = 8 * 8 * 5 * 3 * 9 + 8 * 8 * 5 * 2 * 16 + 7 * 512  # conv, transposed, linear
    assert output.shape == (2, 7) and flops == 2 * 2 * per_sample
    assert not any(layer._forward_hooks for layer in net.modules())  # the counting leaves


def closed_form_macs(net: NetConfig) -> tuple[int, int, int]:
    """(encoder, decoder, critic) multiply-adds per segment by docs/method.md section 3."""
    halvings = int(math.log2(net.isize // 4))

    def stack(width: int) -> tuple[int, int]:
        channels = [1] + [width * 2 ** (k - 1) for k in range(1, halvings + 1)]
        sizes = [net.isize // 2**k for k in range(halvings + 1)]
        macs = sum(
            16 * sizes[k] ** 2 * channels[k - 1] * channels[k] for k in range(1, halvings + 1)
        )
        return macs, channels[-1]

    (encoder, last_d), (decoder, last_g) = stack(net.ndf), stack(net.ngf)
    return encoder + 16 * last_d * net.nz, decoder + 16 * last_g * net.nz, encoder + 17 * last_d


@pytest.mark.parametrize(
    "net",
    [
        NetConfig(isize=128, nz=256, ndf=32, ngf=32, norm_g="bn"),
        NetConfig(isize=32, nz=16, ndf=8, ngf=8),
    ],
    ids=["full size", "test size"],
)
def test_segment_flops_follow_the_closed_form_of_the_method(net):
    encoder, decoder, critic = closed_form_macs(net)
    everything, critic_flops = segment_flops(Generator(net), Discriminator(net))
    assert (everything, critic_flops) == (2 * (2 * encoder + decoder + critic), 2 * critic)


def test_the_method_states_the_full_size_cost_its_formula_gives():
    """docs/method.md section 3 quotes the figures its closed form gives at full size."""
    encoder, decoder, critic = closed_form_macs(NetConfig(isize=128, nz=256, ndf=32, ngf=32))
    everything = 2 * (2 * encoder + decoder + critic)
    method = (Path(__file__).resolve().parents[2] / "docs" / "method.md").read_text()
    assert f"{everything:,} FLOP, **{everything / 1e9:.2f} GFLOP**" in method
    assert f"critic's {2 * critic:,} (**{2 * critic / 1e9:.2f} GFLOP**)" in method
