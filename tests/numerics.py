"""Tolerances for comparing float32 results that were summed in different orders.

Two float32 computations of the same sums differ only by rounding, and how much
depends on the CPU's kernels (vector width, threads), not on the code under test.
The bounds here follow the standard error analysis of floating-point summation
(Higham, *Accuracy and Stability of Numerical Algorithms*, ch. 4): a sum of n
terms carries an error of at most about n * eps * sum(|terms|), and typically
sqrt(n) * eps * sum(|terms|) because the roundings are as likely up as down.
"""

from __future__ import annotations

import math

import torch

EPS32 = torch.finfo(torch.float32).eps
"""float32 machine epsilon, 2**-23: the spacing of float32 numbers just above 1."""

BF16_ROUNDOFF = torch.finfo(torch.bfloat16).eps / 2
"""bfloat16's unit roundoff, 2**-8: the relative error of rounding one value to bfloat16."""

SAFETY = 4.0
"""Headroom on the typical (square-root) error: rounding is random, not exactly average."""


def bf16_network_rtol(convolutions: int) -> float:
    """Norm-wise relative error of a network output computed under bf16 autocast.

    Each convolution rounds its input and its weights to bfloat16 (two
    roundings of ``BF16_ROUNDOFF``); the products are summed in float32. The
    independent roundings of ``convolutions`` layers add up like a random walk,
    to sqrt(2 * convolutions) * BF16_ROUNDOFF, and the normalisation layers
    between the convolutions only shrink them: measured on the test networks,
    0.4% for 4 convolutions (bound 1.1%) and 0.7% for 12 (bound 1.9%).
    """
    return math.sqrt(2 * convolutions) * BF16_ROUNDOFF


def reordered_sum_atol(n_terms: int, scale: float) -> float:
    """Absolute tolerance between two float32 sums of ``n_terms`` terms in different orders.

    ``scale`` stands for sum(|terms|) of an element. For a gradient tensor it is
    taken as the largest magnitude in the tensor: an element that cancels to a
    value near zero is still made of terms of the tensor's size, so an
    elementwise relative tolerance would be wrong there.
    """
    return SAFETY * math.sqrt(n_terms) * EPS32 * scale


def reordered_sum_rtol(n_terms: int) -> float:
    """Relative tolerance between reordered float32 sums whose result is as large as its terms.

    That is ``reordered_sum_atol`` with sum(|terms|) = |result|: no cancellation.
    """
    return reordered_sum_atol(n_terms, 1.0)


ADAM_NOISE_SHARE = 0.01
"""The share of weights allowed past the reordering bound after Adam steps (measured: under 0.1%).

They are the weights whose gradient is at float32 noise level, where the
summation order sets its sign and Adam steps such a weight by about lr either
way. Runs on other data move most weights (measured: 95%) by that much.
"""


def assert_close_after_adam(
    pairs: list[tuple[torch.Tensor, torch.Tensor, float]], steps: int, n_terms: int
) -> None:
    """Weights of two Adam runs whose gradients differ only by summation order agree.

    ``pairs`` holds (ours, theirs, learning rate) per tensor. Adam steps every
    weight by lr * m / sqrt(v): about lr whatever the gradient's size, and
    m / sqrt(v) keeps the gradients' relative rounding, so a weight drifts
    by at most ``lr * steps * reordered_sum_rtol(n_terms)``. Only weights whose
    gradient is noise may step the other way, up to 2 lr per step; at most
    ``ADAM_NOISE_SHARE`` of them.
    """
    drift = torch.cat([((a - b).abs() / (lr * steps)).flatten().double() for a, b, lr in pairs])
    assert drift.max().item() <= 2.0, f"a weight moved {drift.max().item():.3g} lr per step apart"
    share = (drift > reordered_sum_rtol(n_terms)).double().mean().item()
    assert share <= ADAM_NOISE_SHARE, (
        f"{share:.1%} of the weights drifted past the float32 reordering bound "
        f"({reordered_sum_rtol(n_terms):.2g} lr per step); at most {ADAM_NOISE_SHARE:.0%} may"
    )


def assert_close_after_reordering(
    actual: torch.Tensor, expected: torch.Tensor, n_terms: int, what: str = ""
) -> None:
    """``actual`` equals ``expected`` up to the rounding of reordered float32 sums.

    Norm-wise: every element within ``reordered_sum_atol(n_terms, max|expected|)``.
    """
    atol = reordered_sum_atol(n_terms, expected.abs().max().item())
    torch.testing.assert_close(
        actual,
        expected,
        rtol=0.0,
        atol=atol,
        msg=lambda m: f"{what}: {m}\n(float32 reordering bound, {n_terms} summed terms)",
    )
