"""The AEGAN-AD networks (docs/method.md section 3): an autoencoder generator and a critic.

The module tree and layer order follow the original code exactly, so that the
published checkpoints load with ``strict=True`` and no renaming: the generator
holds ``Encoder.main.<i>`` and ``Decoder.main.<i>``; the discriminator holds
``main.<stage>.<j>``, ``feat_extract_layer.0`` and ``output_layer.{0,2}``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from aegan.config.schema import MIN_ISIZE, NetConfig
from aegan.errors import ModelError, first_line

INIT_STD = 0.02


def check_net_config(net: NetConfig) -> None:
    """Reject sizes the architecture cannot be built with, before torch does cryptically."""
    isize = net.isize
    if isize < MIN_ISIZE or isize & (isize - 1):
        raise ModelError(
            f"The network input size must be a power of two >= {MIN_ISIZE}; got {isize}.",
            "Set net.isize to e.g. 128 (the published models) or 32.",
        )
    if net.ngf < 2 or net.ndf < 1 or net.nz < 1:
        raise ModelError(
            f"Channel counts too small: nz={net.nz}, ndf={net.ndf}, ngf={net.ngf}.",
            "Use nz >= 1, ndf >= 1 and ngf >= 2 (the published models use 256, 32, 32).",
        )


def activation(name: str) -> nn.Module:
    """The original's activations; in place, as there, to save activation memory."""
    if name == "leakyrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "tanh":
        return nn.Tanh()
    raise ModelError(f"Unknown activation {name!r}.", "Use leakyrelu, relu or tanh.")


def norm_layer(kind: str, channels: int, size: int) -> nn.Module:
    """``ln`` normalises each sample over (C, H, W), so it needs the map size."""
    if kind == "ln":
        return nn.LayerNorm((channels, size, size))
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    if kind == "in":
        return nn.InstanceNorm2d(channels)
    raise ModelError(f"Unknown normalisation {kind!r}.", "Use ln, bn or in.")


def down_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """Halves the map: 4x4, stride 2, padding 1, no bias."""
    return nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False)


def up_conv(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """Doubles the map: 4x4, stride 2, padding 1, no bias."""
    return nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False)


def embedding_dim(net: NetConfig) -> int:
    """Channels of the 4x4 map: ndf doubled once per halving from isize/2 down to 4."""
    return net.ndf * net.isize // 8


def decoder_channels(net: NetConfig) -> int:
    """Channels of the decoder's 4x4 map, computed as the original does (ngf*isize/8)."""
    return (net.ngf // 2) * (net.isize // 4)


def init_weights(module: nn.Module) -> None:
    """The original's initialisation: conv weights N(0, 0.02), BatchNorm N(1, 0.02) and 0.

    LayerNorm and Linear keep torch's defaults, as in the original.
    """
    for layer in module.modules():
        if any(p.is_meta for p in layer.parameters(recurse=False)):
            continue  # shapes only (aegan.model.footprint): nothing to draw, and slow to try
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, INIT_STD)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, INIT_STD)
            nn.init.zeros_(layer.bias)


class Encoder(nn.Module):
    """1 x isize x isize -> nz x 1 x 1, halving the map and doubling channels down to 4x4."""

    def __init__(self, net: NetConfig) -> None:
        super().__init__()
        check_net_config(net)
        size, channels = net.isize // 2, net.ndf
        layers: list[nn.Module] = [down_conv(1, channels)]
        if net.first_norm:
            layers.append(norm_layer(net.norm_g, channels, size))
        layers.append(activation(net.act_enc))
        while size > 4:
            size //= 2
            layers += [
                down_conv(channels, channels * 2),
                norm_layer(net.norm_g, channels * 2, size),
                activation(net.act_enc),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, net.nz, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class Decoder(nn.Module):
    """nz x 1 x 1 -> 1 x isize x isize in [-1, 1], mirroring the encoder."""

    def __init__(self, net: NetConfig) -> None:
        super().__init__()
        check_net_config(net)
        size, channels = 4, decoder_channels(net)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(net.nz, channels, 4, 1, 0, bias=False),
            norm_layer(net.norm_g, channels, size),
            activation(net.act_dec),
        ]
        while size < net.isize // 2:
            size *= 2
            layers += [
                up_conv(channels, channels // 2),
                norm_layer(net.norm_g, channels // 2, size),
                activation(net.act_dec),
            ]
            channels //= 2
        layers += [up_conv(channels, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Generator(nn.Module):
    """The autoencoder; submodule names match the published checkpoints."""

    def __init__(self, net: NetConfig) -> None:
        super().__init__()
        self.config = net
        self.Encoder = Encoder(net)
        self.Decoder = Decoder(net)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.Encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.Decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of x."""
        return self.decode(self.encode(x))


class Discriminator(nn.Module):
    """The WGAN critic, whose penultimate features are the clip embeddings."""

    def __init__(self, net: NetConfig) -> None:
        super().__init__()
        check_net_config(net)
        self.config = net
        size, channels = net.isize // 2, net.ndf
        self.main = nn.ModuleList([self._stage(net, 1, channels, size)])
        while size > 4:
            size //= 2
            self.main.append(self._stage(net, channels, channels * 2, size))
            channels *= 2
        self.feat_extract_layer = nn.Sequential(
            nn.Conv2d(channels, channels, 4, 1, 0, bias=False, groups=channels),
            nn.Flatten(),
        )
        self.output_layer = nn.Sequential(
            nn.LayerNorm(channels), activation(net.act_enc), nn.Linear(channels, 1)
        )
        init_weights(self)

    @staticmethod
    def _stage(net: NetConfig, in_channels: int, out_channels: int, size: int) -> nn.Sequential:
        return nn.Sequential(
            down_conv(in_channels, out_channels),
            norm_layer(net.norm_d, out_channels, size),
            activation(net.act_enc),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(critic output (B, 1), embedding (B, C))."""
        for stage in self.main:
            x = stage(x)
        embedding = self.feat_extract_layer(x)
        return self.output_layer(embedding), embedding


def forward_flops(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``module(x)`` and its work: 2 x the multiply-adds of its convolutions and linear layers
    (what the estimates of run time and the benchmarks' throughput count)."""
    total = 0

    def count(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.ConvTranspose2d):  # every input value meets the whole kernel
            total += 2 * inputs[0].numel() * layer.out_channels * layer.weight[0, 0].numel()
        elif isinstance(layer, nn.Conv2d):
            total += 2 * output.numel() * layer.weight[0].numel()
        else:
            total += 2 * output.numel() * layer.in_features

    layers = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, layers)]
    try:
        with torch.no_grad():
            output = module(x)
    finally:
        for hook in hooks:
            hook.remove()
    return output, total


def segment_flops(generator: Generator, discriminator: Discriminator) -> tuple[int, int]:
    """FLOP per segment of scoring's four passes (encoder, decoder, encoder, critic) and of
    the critic pass alone."""
    size = generator.config.isize
    x = torch.zeros(1, 1, size, size, device=next(generator.parameters()).device)
    z, encoder = forward_flops(generator.Encoder, x)
    _, decoder = forward_flops(generator.Decoder, z)
    _, critic = forward_flops(discriminator, x)
    return 2 * encoder + decoder + critic, critic


def load_strict(
    net: nn.Module, state: Mapping[str, torch.Tensor], what: str, hint: str
) -> nn.Module:
    """Load weights under their original names, all or nothing.

    A mismatch is a ModelError: ``what`` says which weights did not fit, and
    the first line of torch's message says how.
    """
    try:
        net.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{what} ({first_line(exc)}).", hint) from None
    return net
