"""Who may reach the service: loopback by default, the token elsewhere, CORS only on request."""

from __future__ import annotations

import hmac
from pathlib import Path

import httpx
import pytest

from aegan.serve import security
from aegan.serve.config import ServeConfig, is_loopback
from tests.serve import browser
from tests.serve.conftest import running

TOKEN = "another-test-token-0123456789"
ORIGIN = "https://plant.example"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("plant.example", False)],
)  # fmt: skip
def test_which_addresses_count_as_this_machine_only(host, loopback):
    assert is_loopback(host) is loopback


def test_the_default_address_is_loopback():
    assert ServeConfig(models=("fan22",)).host == "127.0.0.1"


def test_tokens_are_compared_in_constant_time(monkeypatch):
    calls = []
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or a == b)
    assert security.same_token(TOKEN, TOKEN) and not security.same_token("x" * 29, TOKEN)
    assert not security.same_token(None, TOKEN)
    assert calls == [(TOKEN.encode(), TOKEN.encode()), (b"x" * 29, TOKEN.encode())]


def test_the_page_signs_in_with_the_token_as_a_cookie(small_bundle):
    with running(ServeConfig(models=(str(small_bundle),), token=TOKEN)) as served:
        page = served.client.get("/")
        assert page.status_code == 401 and 'action="/v1/session"' in page.text
        wrong = served.client.post("/v1/session", data={"token": "not-the-token-at-all"})
        assert wrong.status_code == 401 and "aegan_token" not in wrong.headers.get("set-cookie", "")
        with httpx.Client(base_url=served.url) as browser_like:
            signed = browser_like.post("/v1/session", data={"token": TOKEN})
            assert signed.status_code == 303 and signed.headers["location"] == "/"
            cookie = signed.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert browser_like.get("/").status_code == 200
            assert browser_like.get("/v1/models").status_code == 200
            assert browser_like.get("/page/app.js").status_code == 200


def test_no_cors_unless_asked(service):
    answer = service.client.get("/v1/models", headers={"Origin": ORIGIN})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    preflight = service.client.options("/v1/score", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_the_origin_given(small_bundle):
    config = ServeConfig(models=(str(small_bundle),), token=TOKEN, cors=(ORIGIN,))
    with running(config) as served:
        preflight = served.client.options("/v1/score", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"})  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        other = served.client.get("/v1/models", headers={
            "Origin": "https://elsewhere.example", "Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert "access-control-allow-origin" not in other.headers


def test_the_page_tests_skip_without_a_browser_but_fail_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", Path(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        browser.require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-chromium"):
        browser.require_browser()
