"""Error answers of the API: one JSON shape, ``{"detail": message, "hint": hint}``."""

from __future__ import annotations

from starlette.responses import JSONResponse

from aegan.errors import AeganError


def problem(
    status: int, message: str, hint: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"detail": message} if hint is None else {"detail": message, "hint": hint}
    return JSONResponse(body, status_code=status, headers=headers)


def error_answer(exc: AeganError, status: int) -> JSONResponse:
    return problem(status, exc.message, exc.hint)


def not_ready(status: str) -> JSONResponse:
    return problem(
        503, f"The service is {status}: its models are not in memory yet.",
        "Wait until GET /v1/health says ready.", {"Retry-After": "1"},
    )  # fmt: skip
