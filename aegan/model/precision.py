"""The arithmetic precision of the network passes when scoring: fp32 (exact) or bf16.

bf16 runs the convolutions and matrix products in bfloat16 under
``torch.autocast`` (on the CPU and on CUDA), while the weights stay fp32 and
everything after the networks (distances, pooling, detectors) stays fp32 or
fp64. fp32 changes nothing: the networks run exactly as they always have.

bf16 pays only where the hardware computes in it: a CUDA GPU that supports
it, or a CPU with AVX512-BF16 or AMX instructions. Elsewhere (e.g. a CPU with
AVX2 only) oneDNN emulates it some hundred times slower than fp32, so it is
refused there with a clear error rather than left to run for hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Literal, get_args

import torch

from aegan.errors import UsageError, did_you_mean

Precision = Literal["fp32", "bf16"]


PRECISIONS: tuple[Precision, ...] = get_args(Precision)


def parse_precision(value: str) -> Precision:
    """A precision name from the command line or a caller; a UsageError for anything else."""
    name = str(value).strip().lower()
    for precision in PRECISIONS:
        if name == precision:
            return precision
    raise UsageError(
        f"Unknown precision {value!r}.",
        did_you_mean(name, PRECISIONS, otherwise=f"Use one of {', '.join(PRECISIONS)}."),
    )


@cache
def bf16_is_fast(device_type: str) -> bool:
    """Whether the device computes in bf16 natively (CUDA: the GPU; CPU: AVX512-BF16 or AMX)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        return cpu_has_bf16()
    return False


BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
"""The kernel's names for bf16 instructions: AVX512-BF16 and AMX (x86), BF16 (Arm)."""


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU flags that Linux lists name bf16 instructions (False where none are listed)."""
    try:
        flags = set(cpuinfo.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return bool(flags & BF16_CPU_FLAGS)


def check_precision(precision: Precision, device: torch.device) -> Precision:
    """The parsed precision; a UsageError for bf16 on a device that would only emulate it."""
    precision = parse_precision(precision)
    if precision == "bf16" and not bf16_is_fast(device.type):
        raise UsageError(
            f"This {device.type.upper()} has no bf16 arithmetic; emulating it would make "
            "scoring some hundred times slower than fp32.",
            "Use --precision fp32 here; bf16 pays on a GPU or on a CPU with AVX512-BF16/AMX.",
        )
    return precision


@contextmanager
def network_precision(precision: Precision, device: torch.device) -> Iterator[None]:
    """Run the network passes inside this block in ``precision`` on ``device``.

    Only the block's operators are affected, so the same modules can score in
    either precision; results leaving the block should be cast back with
    ``.float()`` before any further arithmetic.
    """
    if check_precision(precision, device) == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield
