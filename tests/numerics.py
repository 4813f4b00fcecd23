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


def adam_atol(lr: float, steps: int) -> float:
    """How far one weight of two Adam runs may drift apart when their gradients differ by rounding.

    Adam steps by lr * m / sqrt(v), about lr whatever the gradient's size. A
    gradient at float32 noise level may change sign between the runs, and the
    weight then steps the other way: at most about 2 lr apart per step.
    """
    return 2 * lr * steps


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
