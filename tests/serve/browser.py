"""Headless Chromium for the page tests (Debian's chromium and chromium-driver, via Selenium).

Without a browser the tests skip, saying how to get one; under CI=true they fail
instead, so CI never passes without having looked at the page.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)  # fmt: skip
HOW_TO_GET_ONE = (
    "No headless browser: the page tests need Chromium and its driver "
    "(Debian/Ubuntu: sudo apt-get install chromium chromium-driver)."
)


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{HOW_TO_GET_ONE} Missing under CI: {', '.join(missing)}.")
        pytest.skip(HOW_TO_GET_ONE)


@contextmanager
def chromium(width: int = 1100, height: int = 900) -> Iterator:
    """A fresh headless Chromium (its own profile folder), quit and removed after."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="aegan-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
