"""A missing optional extra skips its tests locally and fails them in CI."""

from __future__ import annotations

import pytest

from tests.extras import require_modules


def outcome(*names: str) -> BaseException:
    """What ``require_modules`` raised: a skip and a failure are both BaseExceptions."""
    with pytest.raises(BaseException) as caught:
        require_modules(*names, extra="export")
    return caught.value


def test_a_missing_extra_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    skipped = outcome("json", "aegan_no_such_module")
    assert type(skipped) is pytest.skip.Exception and "aegan[export]" in str(skipped)
    monkeypatch.setenv("CI", "true")
    failed = outcome("aegan_no_such_module")
    assert type(failed) is pytest.fail.Exception and "CI must have it" in str(failed)
    require_modules("json", extra="export")  # present: neither skips nor fails
