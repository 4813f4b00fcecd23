"""The losses of WGAN-GP training with feature matching (docs/method.md section 4).

The critic's gradient penalty, the generator's feature-matching term on the
critic's embeddings, and the replay of BatchNorm statistic updates that lets
the generator step see the batch exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
"""The layers that keep running statistics of a batch (torch's public classes)."""


def gradient_penalty(
    critic: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    real: torch.Tensor,
    fake: torch.Tensor,
    alpha: torch.Tensor,
) -> torch.Tensor:
    """``mean((||grad D(xi)||_2 - 1)^2)`` at ``xi = alpha*real + (1-alpha)*fake``, one alpha per sample.

    The gradient keeps its graph so that the penalty trains the critic (a
    double backward); it is taken in float32 even under autocast.
    """
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    output, _ = critic(mixed)
    (grad,) = torch.autograd.grad(output.float().sum(), mixed, create_graph=True)
    return ((grad.float().flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def population_std(values: torch.Tensor) -> torch.Tensor:
    """Std over the batch dimension, dividing by n (as the original)."""
    return values.std(dim=0, correction=0)


def feature_matching_loss(
    fake: torch.Tensor, real: torch.Tensor, weight_mu: float, weight_sigma: float
) -> torch.Tensor:
    """``w_mu * MSE(mean fake, mean real) + w_sigma * MSE(std fake, std real)`` over the batch.

    A zero weight leaves its term out entirely, as an absent ``match_item`` in
    the original (the std's gradient is undefined where a feature is constant).
    """
    loss = fake.new_zeros((), dtype=torch.float32)
    if weight_mu:
        loss = loss + weight_mu * F.mse_loss(fake.mean(dim=0), real.mean(dim=0))
    if weight_sigma:
        loss = loss + weight_sigma * F.mse_loss(population_std(fake), population_std(real))
    return loss


@contextmanager
def replay_batchnorm_updates(module: nn.Module) -> Iterator[None]:
    """Inside, each training-mode BatchNorm updates its running statistics twice per forward.

    That is what two forward passes on the same batch do, and the output is
    that of one pass. The replay runs the same kernel on the same input, so
    the buffers match two real passes exactly.
    """
    handles = [
        layer.register_forward_hook(_replay_update)
        for layer in module.modules()
        if isinstance(layer, BATCH_NORMS) and layer.track_running_stats
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _replay_update(
    layer: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...], _: torch.Tensor
) -> None:
    if not layer.training:
        return
    with torch.no_grad():
        layer.num_batches_tracked.add_(1)  # what BatchNorm's forward does, in its order
        factor = layer.momentum
        if factor is None:  # a cumulative average
            factor = 1.0 / float(layer.num_batches_tracked)
        F.batch_norm(
            inputs[0], layer.running_mean, layer.running_var, layer.weight, layer.bias,
            training=True, momentum=factor, eps=layer.eps,
        )  # fmt: skip
