"""One byte formatter: base 1024, and the unit says so."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegan.byte_sizes import format_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 bytes"),
        (1000, "1000 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (32 << 20, "32.0 MiB"),
        (50 * 1024**3, "50.0 GiB"),
        (1024**2 - 1, "1.0 MiB"),
        (3 * 1024**4, "3.0 TiB"),
        (5000 * 1024**4, "5000.0 TiB"),
    ],
)
def test_sizes_are_written_in_powers_of_1024_with_iec_units(n, text):
    assert format_bytes(n) == text


@given(st.integers(min_value=1024, max_value=1024**4 - 1))
def test_the_figure_times_its_unit_gives_back_the_size(n):
    figure, unit = format_bytes(n).split()
    scale = 1024 ** ("KiB", "MiB", "GiB", "TiB").index(unit) * 1024
    assert 1.0 <= float(figure) < 1024
    assert abs(float(figure) * scale - n) <= 0.05 * scale
