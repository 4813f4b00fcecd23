"""How much memory training and scoring will take, checked before the large allocations.

Every setting of ``net.*``, ``feat.*`` and ``train.batch_size`` is within its own
range, yet together they can ask for more memory than a machine has: the
process then swaps for minutes or is killed without a word. The networks are
built on torch's ``meta`` device (shapes only, no memory), and every layer's
output for one sample is counted; with the parameters and the batch size that
gives an estimate of the peak, computed in milliseconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cache

import torch
from torch import nn

from aegan.allocator import available_host_bytes
from aegan.config.schema import Config, NetConfig
from aegan.errors import AeganError
from aegan.model.nets import Discriminator, Generator

FLOAT_BYTES = 4
TRAINING_COPIES = 2  # each activation is kept for the backward pass, and its gradient made
CRITIC_PASSES = 3  # a WGAN-GP step runs the critic on real, fake and interpolated batches
OPTIMISER_COPIES = 4  # weights, gradients and Adam's two moments


class MemoryShortfall(AeganError):
    """The memory a run would need is more than the machine has free."""


@dataclass(frozen=True)
class Activations:
    """Floats of one sample's layer outputs through a network: all of them (kept for the
    backward pass in training) and the largest one (without gradients, each output is freed
    once the next layer has it, so a pass holds about two at a time)."""

    total: int
    largest: int


@cache
def _per_sample(net_json: str) -> tuple[Activations, Activations, int]:
    """The generator's and the critic's activations for one input, and the parameter count."""
    net = NetConfig(**json.loads(net_json))
    with torch.device("meta"):  # shapes only: no memory, no initialisation drawn
        generator, critic = Generator(net), Discriminator(net)
    input_shape = (1, net.isize, net.isize)
    params = sum(p.numel() for module in (generator, critic) for p in module.parameters())
    return _activations(generator, input_shape), _activations(critic, input_shape), params


def _activations(module: nn.Module, shape: tuple[int, ...]) -> Activations:
    """The outputs a forward pass allocates, its layers taken in order (the networks are
    chains); in-place activations allocate nothing.

    The shapes are worked out from each layer's settings, not by running it: a forward
    pass on meta tensors loads torch's compiler, which takes seconds.
    """
    sizes = []
    for layer in (m for m in module.modules() if not list(m.children())):
        shape = _output_shape(layer, shape)
        if not getattr(layer, "inplace", False):
            sizes.append(math.prod(shape))
    return Activations(total=sum(sizes), largest=max(sizes))


def _output_shape(layer: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape of one layer of the networks for an input of ``shape`` (no batch)."""
    if isinstance(layer, nn.Conv2d):
        return (layer.out_channels, *(_conv_size(n, layer, i) for i, n in enumerate(shape[1:])))
    if isinstance(layer, nn.ConvTranspose2d):
        return (layer.out_channels, *(_up_size(n, layer, i) for i, n in enumerate(shape[1:])))
    if isinstance(layer, nn.Flatten):
        return (math.prod(shape),)
    if isinstance(layer, nn.Linear):
        return (layer.out_features,)
    return shape  # normalisations and activations keep the shape


def _conv_size(n: int, conv: nn.Conv2d, axis: int) -> int:
    padding = conv.padding[axis]
    assert isinstance(padding, int)
    return (n + 2 * padding - conv.kernel_size[axis]) // conv.stride[axis] + 1


def _up_size(n: int, conv: nn.ConvTranspose2d, axis: int) -> int:
    return (n - 1) * conv.stride[axis] - 2 * conv.padding[axis] + conv.kernel_size[axis]


def per_sample(net: NetConfig) -> tuple[Activations, Activations, int]:
    return _per_sample(json.dumps(asdict(net), sort_keys=True))


def training_bytes(cfg: Config, feature_bytes: int) -> int:
    """A training step's peak: the training features, weights and optimiser state, and one
    batch's activations and gradients through the generator and the critic."""
    gen, critic, params = per_sample(cfg.net)
    per_input = gen.total + CRITIC_PASSES * critic.total
    batch = cfg.train.batch_size * per_input * TRAINING_COPIES
    return feature_bytes + FLOAT_BYTES * (params * OPTIMISER_COPIES + batch)


def scoring_bytes(cfg: Config, batch_size: int) -> int:
    """A scoring batch's peak: the weights, and the two largest outputs alive at once."""
    gen, critic, params = per_sample(cfg.net)
    largest = max(gen.largest, critic.largest)
    return FLOAT_BYTES * (params + batch_size * (2 * largest + cfg.net.isize**2))


def require_scoring_memory(cfg: Config, batch_size: int, device: torch.device) -> None:
    """Refuse a scoring batch that needs more memory than the device has free."""
    require_memory(
        scoring_bytes(cfg, batch_size),
        device,
        f"Scoring in batches of {batch_size} segments",
        f"Score in smaller batches (batch_size={max(1, batch_size // 4)}), or on a device "
        f"with more memory (--gpu); this model's input is {cfg.net.isize}x{cfg.net.isize}.",
    )


def available_bytes(device: torch.device) -> int | None:
    """Free memory of a device (a GPU's, or the machine's for the CPU); None when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        return available_host_bytes()
    return None


def require_memory(needed: int, device: torch.device, what: str, hint: str) -> None:
    """Refuse ``what`` when it needs more memory than ``device`` has free, before allocating."""
    free = available_bytes(device)
    if free is None or needed <= free:
        return
    raise MemoryShortfall(
        f"{what} would need about {_gb(needed)} of memory, more than the {_gb(free)} free "
        f"on {device.type.upper()}.",
        hint,
    )


def _gb(count: int) -> str:
    return f"{count / 2**30:.1f} GB"
