"""Scoring copies of the networks: the same function, laid out for fast inference.

Scoring never trains, so a copy of each network can be rewritten once into
layers that oneDNN (CPU) and cuDNN run faster, without touching the weights
that training, saving and export use:

- eval-mode BatchNorm is folded into the convolution before it (a per-channel
  scale of the weights and a bias), so no separate pass over the map;
- LayerNorm over (C, H, W) normalises channels-last maps in place of
  copying them to the usual layout and back;
- the encoder's last convolution (4x4 map to 1x1) and the decoder's first
  (1x1 to 4x4) are plain matrix products, which is all they compute;
- the decoder's last transposed convolution, to one channel, becomes one
  convolution with one output channel per output pixel phase followed by a
  pixel shuffle (oneDNN runs a one-channel transposed convolution slowly);
- every weight is held in channels-last layout.

The folded weights are computed in float64 and rounded once, so a score
changes only by float32 rounding (docs/method.md section 5). A copy is kept
while its network lives and its weights are unchanged, so scoring many small
batches does not rebuild it each time.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from aegan.model.nets import Discriminator, Generator

# The taps of a 4x4, stride-2, padding-1 transposed convolution per output
# phase: output row 2m + phase takes input row m + offset through kernel row k.
_PHASE_TAPS = {0: ((1, 0), (3, -1)), 1: ((0, 1), (2, 0))}

_Net = TypeVar("_Net", Generator, Discriminator)
_COPIES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, nn.Module]] = weakref.WeakKeyDictionary()


class ChannelsLastLayerNorm(nn.Module):
    """LayerNorm over (C, H, W) that keeps a channels-last map channels-last.

    The statistics span the whole sample, so the layout only decides the order
    of the affine weights: they are held as (H, W, C) to match the permuted view.
    """

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.eps = norm.eps
        self.register_buffer("weight", norm.weight.detach().permute(1, 2, 0).contiguous())
        self.register_buffer("bias", norm.bias.detach().permute(1, 2, 0).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = self.weight.shape
        if not x.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        y = F.layer_norm(x.permute(0, 2, 3, 1), shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class MapToVector(nn.Module):
    """A valid convolution whose kernel covers the whole map (to 1x1), as one matrix product."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        out_channels = conv.out_channels
        weight = conv.weight.detach().permute(0, 2, 3, 1).reshape(out_channels, -1)
        self.register_buffer("weight", weight.contiguous())
        self.register_buffer("bias", _bias_of(conv))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.permute(0, 2, 3, 1).reshape(len(x), -1)  # (H, W, C) order, as the weights
        return F.linear(flat, self.weight, self.bias)[:, :, None, None]


class VectorToMap(nn.Module):
    """A transposed convolution from a 1x1 map to a k x k map, as one matrix product."""

    def __init__(self, conv: nn.ConvTranspose2d) -> None:
        super().__init__()
        in_channels, out_channels, height, width = conv.weight.shape
        self.shape = (height, width, out_channels)
        weight = conv.weight.detach().permute(2, 3, 1, 0).reshape(-1, in_channels)
        self.register_buffer("weight", weight.contiguous())
        bias = _bias_of(conv)
        self.register_buffer("bias", bias.repeat(height * width))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        maps = F.linear(z.flatten(1), self.weight, self.bias).reshape(len(z), *self.shape)
        return maps.permute(0, 3, 1, 2)  # channels-last (B, C, H, W)


class PhaseUpConv(nn.Module):
    """A 4x4, stride-2, padding-1 transposed convolution to few channels, by output phase.

    Each of the four output pixel phases is a 2x2 correlation of the input, so
    one 3x3 convolution with four output channels per channel (zero taps where
    a phase has none) and a pixel shuffle give the same map.
    """

    def __init__(self, conv: nn.ConvTranspose2d) -> None:
        super().__init__()
        weight = conv.weight.detach().double()  # (in, out, 4, 4)
        in_channels, out_channels = weight.shape[:2]
        kernel = weight.new_zeros(out_channels, 2, 2, in_channels, 3, 3)
        for row_phase, row_taps in _PHASE_TAPS.items():
            for col_phase, col_taps in _PHASE_TAPS.items():
                for k_row, row_offset in row_taps:
                    for k_col, col_offset in col_taps:
                        kernel[:, row_phase, col_phase, :, row_offset + 1, col_offset + 1] = weight[
                            :, :, k_row, k_col
                        ].T
        kernel = kernel.reshape(out_channels * 4, in_channels, 3, 3).to(conv.weight.dtype)
        self.register_buffer("weight", kernel.contiguous(memory_format=torch.channels_last))
        self.register_buffer("bias", _bias_of(conv).repeat_interleave(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(F.conv2d(x, self.weight, self.bias, padding=1), 2)


_CONVOLUTIONS = (nn.Conv2d, nn.ConvTranspose2d)


def _bias_of(conv: nn.Conv2d | nn.ConvTranspose2d) -> torch.Tensor:
    channels = conv.out_channels
    if conv.bias is None:
        return conv.weight.new_zeros(channels)
    return conv.bias.detach().clone()


def _fold_batch_norm(conv: nn.Module, norm: nn.BatchNorm2d) -> None:
    """Give ``conv`` the effect of eval-mode ``norm`` after it: scaled weights and a bias."""
    scale = norm.weight.double() / torch.sqrt(norm.running_var.double() + norm.eps)
    shift = norm.bias.double() - norm.running_mean.double() * scale
    weight = conv.weight.detach().double()
    if isinstance(conv, nn.ConvTranspose2d):
        weight = weight * scale[None, :, None, None]  # (in, out, kh, kw)
    else:
        weight = weight * scale[:, None, None, None]  # (out, in, kh, kw)
    bias = shift if conv.bias is None else shift + conv.bias.double() * scale
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
    conv.bias = nn.Parameter(bias.to(dtype), requires_grad=False)


def _folded(layers: nn.Sequential) -> nn.Sequential:
    """The layers with each BatchNorm folded into the convolution before it and each
    (C, H, W) LayerNorm in its channels-last form."""
    out: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and isinstance(out[-1], _CONVOLUTIONS):
            _fold_batch_norm(out[-1], layer)
        elif isinstance(layer, nn.LayerNorm) and len(layer.normalized_shape) == 3:
            out.append(ChannelsLastLayerNorm(layer))
        else:
            out.append(layer)
    return nn.Sequential(*out)


def _weights_state(module: nn.Module) -> tuple:
    """What identifies the current weights: each tensor's storage and in-place version
    (an optimiser step or ``load_state_dict`` bumps it), device and dtype."""
    tensors = [*module.parameters(), *module.buffers()]
    return tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors)


def _cached(module: _Net, build: Callable[[_Net], _Net]) -> _Net:
    state = _weights_state(module)
    kept = _COPIES.get(module)
    if kept is not None and kept[0] == state:
        return kept[1]
    fast = build(module)
    _COPIES[module] = (state, fast)
    return fast


def scoring_generator(generator: Generator) -> Generator:
    """An eval-mode copy of ``generator`` in its fast inference form; the original is untouched."""
    return _cached(generator, _fast_generator)


def scoring_discriminator(discriminator: Discriminator) -> Discriminator:
    """An eval-mode copy of the critic in its fast inference form; the original is untouched."""
    return _cached(discriminator, _fast_discriminator)


def _fast_generator(generator: Generator) -> Generator:
    fast = copy.deepcopy(generator).eval().requires_grad_(False)
    encoder = _folded(fast.Encoder.main)
    encoder[-1] = MapToVector(encoder[-1])  # 4x4 map -> nz x 1 x 1
    fast.Encoder.main = encoder
    decoder = _folded(fast.Decoder.main)
    decoder[0] = VectorToMap(decoder[0])  # nz x 1 x 1 -> 4x4 map
    decoder[-2] = PhaseUpConv(decoder[-2])  # the last up-convolution, to one channel
    fast.Decoder.main = decoder
    return fast.to(memory_format=torch.channels_last)


def _fast_discriminator(discriminator: Discriminator) -> Discriminator:
    fast = copy.deepcopy(discriminator).eval().requires_grad_(False)
    fast.main = nn.ModuleList(_folded(stage) for stage in fast.main)
    return fast.to(memory_format=torch.channels_last)
