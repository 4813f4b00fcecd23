"""constraints/lowest.txt pins every dependency at the lower bound that pyproject.toml declares.

The suite is run with those pins (README, Development) as well as with the
newest releases, so each declared lower bound is a tested one.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENT = re.compile(r'"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9][0-9.]*)[^"]*"')
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([0-9][0-9.]*)\s*$", re.MULTILINE)


def release(version: str) -> tuple[int, ...]:
    """``2.11`` and ``2.11.0`` are the same release."""
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_lower_bounds() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return {normal(name): version for name, version in REQUIREMENT.findall(text)}


def pins() -> dict[str, str]:
    text = (ROOT / "constraints" / "lowest.txt").read_text(encoding="utf-8")
    return {normal(name): version for name, version in PIN.findall(text)}


def test_every_declared_lower_bound_is_pinned_at_that_version():
    declared, pinned = declared_lower_bounds(), pins()
    assert {"torch", "torchaudio", "numpy", "onnx", "pytest"} <= declared.keys()
    assert {name: release(v) for name, v in declared.items() if name != "setuptools"} == {
        name: release(pinned[name]) for name in declared if name != "setuptools"
    }


def test_torch_and_torchaudio_start_at_2_11():
    declared = declared_lower_bounds()
    assert release(declared["torch"]) == release(declared["torchaudio"]) == (2, 11)
