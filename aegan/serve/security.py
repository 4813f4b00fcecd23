"""The token gate: with a token set, every route but the health check needs it.

Programs send ``Authorization: Bearer TOKEN``. A browser cannot add that
header when it opens the page, so the page's sign-in form posts the token once
to ``/v1/session``, which sets it as an HttpOnly, SameSite=Strict cookie that
the gate accepts in its place. Both are compared in constant time
(``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from aegan.serve.page import page_text

OPEN_PATHS = frozenset({"/v1/health", "/v1/session"})
COOKIE = "aegan_token"
MAX_FORM_BYTES = 4096


def same_token(given: str | None, token: str) -> bool:
    """Constant-time comparison; None (nothing sent) never matches."""
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class TokenGate:
    """ASGI middleware: refuse requests without the token (401), the sign-in page at ``/``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        await refusal(scope["path"])(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        request = Request(scope)
        given = bearer(request.headers)
        return same_token(given if given is not None else request.cookies.get(COOKIE), self.token)


def refusal(path: str, status: int = 401) -> Response:
    if path == "/":
        return HTMLResponse(page_text("signin.html"), status_code=status)
    return JSONResponse(
        {"detail": "This service needs a token.",
         "hint": "Send the header 'Authorization: Bearer TOKEN' (the token aegan serve was "
                 "started with)."},
        status_code=status, headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


async def sign_in(request: Request, token: str | None) -> Response:
    """The sign-in form's target: the token as a cookie, then back to the page."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return JSONResponse({"detail": "The sign-in form is too large."}, status_code=413)
    given = parse_qs(body.decode("utf-8", "replace")).get("token", [None])[0]
    if token is None:
        return RedirectResponse("/", status_code=303)  # no token needed: nothing to sign in to
    if not same_token(given, token):
        return refusal("/")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, given, httponly=True, samesite="strict", path="/")
    return response
