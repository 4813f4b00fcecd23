"""Tests of an optional extra: skipped where it is not installed, except in CI.

The test extra declares every other extra, so CI (``CI=true``) has them all:
there, a missing one is an install defect and fails the test instead of
letting it skip unnoticed.
"""

from __future__ import annotations

import importlib
import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require_modules(*names: str, extra: str) -> None:
    """Import ``names``; skip the test where one is missing, or fail it under CI=true."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as error:
            message = f"{name} is missing: pip install 'aegan[{extra}]' ({error})"
            if in_ci():
                pytest.fail(f"{message}; the test extra declares it, so CI must have it")
            pytest.skip(message)
