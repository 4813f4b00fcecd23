"""Byte counts as people read them, in one base everywhere: 1024, with IEC units (KiB, MiB).

The settings (``cache.features_max_gb``), the archive limits and the sizes a
table shows all count in powers of 1024, so every size the user reads is in
that base and its unit says so (torch-free).
"""

from __future__ import annotations

UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")
STEP = 1024


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest unit that keeps the figure below 1024: ``"33.6 MiB"``."""
    value = float(n)
    if abs(value) < STEP:
        return f"{value:.0f} {UNITS[0]}"
    for unit in UNITS[1:-1]:
        value /= STEP
        if round(abs(value), 1) < STEP:  # 1023.96 KiB reads as 1.0 MiB, not 1024.0 KiB
            return f"{value:.1f} {unit}"
    return f"{value / STEP:.1f} {UNITS[-1]}"
