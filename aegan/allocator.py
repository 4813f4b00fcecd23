"""Keeping the large buffers of CPU work in the process instead of the kernel's hands.

Training, scoring and feature computing all need it. A full-size training step (isize 128, batch 512) allocates activation and gradient
buffers of up to hundreds of MB each. glibc serves any block above its mmap
threshold (at most 32 MB) with a fresh ``mmap`` and hands it back with
``munmap`` on free, so every step maps the same gigabytes anew and the kernel
zero-fills them page by page: over a million minor page faults per step, and
system time of about 60% of user time. Inside ``reused_host_memory`` glibc
serves large blocks from its heap and never trims it, so the second step
reuses the first step's pages. The heap then keeps the step's high-water mark
resident between steps, which is the peak the step needs anyway; on leaving,
the settings go back and the free pages go back to the system.

Scoring a batch of 256 full-size segments has buffers of 268 MB: reusing them
took scoring from 80 to 102 segments/s on a 2-core CPU (benchmarks/scoring.py).
A 10-s clip's log-mel needs a few MB of temporaries; glibc trims them off the
top of its heap after every clip, and faulting them back cost more system time
than the FFT's own (benchmarks/features.py). Nothing here changes a computed
value: only where the memory comes from. No torch: features use it too.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Protocol

# mallopt parameters (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4

DEFAULT_TRIM_THRESHOLD = 128 * 1024  # glibc's documented defaults, restored on leaving
DEFAULT_MMAP_MAX = 65536
NEVER_TRIM = -1  # mallopt(3): -1 disables trimming completely


class _Device(Protocol):
    type: str  # a torch.device, without importing torch


_depth = 0  # nested uses (scoring inside training): only the outermost one sets and restores


@cache
def _glibc() -> ctypes.CDLL | None:
    """The C library of this process when it is glibc (the only one with these knobs)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


def allocator_tunable() -> bool:
    """Whether ``reused_host_memory`` can act here (Linux with glibc)."""
    return _glibc() is not None


@contextmanager
def reused_host_memory(device: _Device | None = None) -> Iterator[None]:
    """Large host allocations reuse the heap while inside (work on the CPU: ``device`` None
    or a CPU torch.device).

    On other devices the host allocates little per step and nothing changes;
    without glibc nothing changes either.
    """
    global _depth
    libc = _glibc()
    if libc is None or (device is not None and device.type != "cpu"):
        yield
        return
    if _depth == 0:
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
