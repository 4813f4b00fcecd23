"""A missing optional extra skips its tests locally and fails them in CI."""

from __future__ import annotations

import pytest

from tests.extras import require_modules


def test_a_missing_extra_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"aegan\[export\]"):
        require_modules("json", "aegan_no_such_module", extra="export")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have it"):
        require_modules("aegan_no_such_module", extra="export")
    require_modules("json", extra="export")  # present: neither skips nor fails
