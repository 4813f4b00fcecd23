"""CPU network passes keep freed large buffers in the process (aegan/allocator.py)."""

from __future__ import annotations

import pytest
import torch

from aegan.allocator import allocator_tunable, reused_host_memory

pytestmark = pytest.mark.skipif(not allocator_tunable(), reason="needs Linux with glibc")

BUFFER = 256 << 20  # bytes: far above glibc's largest mmap threshold (32 MB)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _touch_and_free() -> int:
    """Resident bytes still held after a large buffer was filled and freed."""
    before = _resident_bytes()
    buffer = torch.empty(BUFFER // 4)
    buffer.fill_(1.0)
    del buffer
    return _resident_bytes() - before


def test_inside_freed_buffers_stay_mapped_and_leaving_gives_them_back():
    assert _touch_and_free() < BUFFER // 4  # the default: unmapped at once
    with reused_host_memory(torch.device("cpu")):
        assert _touch_and_free() > BUFFER // 2
        inside = _resident_bytes()
    assert inside - _resident_bytes() > BUFFER // 2  # the held pages go back on leaving
    assert _touch_and_free() < BUFFER // 4  # and the default is back


def test_other_devices_leave_the_allocator_alone():
    with reused_host_memory(torch.device("meta")):
        assert _touch_and_free() < BUFFER // 4


def test_a_nested_use_keeps_the_outer_setting_until_the_outer_one_ends():
    """Scoring inside training (per-epoch validation) must not reset training's setting."""
    with reused_host_memory(torch.device("cpu")):
        with reused_host_memory(torch.device("cpu")):
            pass
        assert _touch_and_free() > BUFFER // 2
    assert _touch_and_free() < BUFFER // 4
