"""The FastAPI application: routes, the token gate, CORS, latency metrics and error answers."""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aegan.errors import AeganError
from aegan.serve.answers import error_answer, not_ready, problem
from aegan.serve.page import ASSETS, CONTENT_SECURITY, page_text
from aegan.serve.scoring import score_upload
from aegan.serve.security import TokenGate, sign_in
from aegan.serve.service import NotReady, Service, UnknownModel
from aegan.serve.watch_routes import NotWatching, add_watch_routes
from aegan.serve.watching import UnknownSource

API_VERSION = "v1"


def create_app(service: Service) -> FastAPI:
    """The service's app; models load in a thread once it starts (see ``Service.load``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=service.load, name="aegan-load", daemon=True).start()
        yield
        service.stop()

    app = FastAPI(
        title="aegan serve",
        summary="AEGAN-AD anomaly scores of machine sounds over HTTP",
        version=API_VERSION,
        lifespan=lifespan,
    )
    app.state.service = service
    _routes(app, service)
    add_watch_routes(app, service)
    _errors(app)
    app.add_middleware(Latency, service=service)
    if service.config.token is not None:
        app.add_middleware(TokenGate, token=service.config.token)
    if service.config.cors:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(service.config.cors), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )  # fmt: skip
    return app


def _routes(app: FastAPI, service: Service) -> None:
    app.post("/v1/score", tags=["scoring"])(score_upload)

    @app.get("/v1/models", tags=["scoring"])
    def models() -> list[dict]:
        """The models served: name, DCASE year and machine, score, threshold, clip length."""
        service.scoring_queue()
        return [
            {
                "name": name, "year": d.cfg.year, "machine": d.cfg.machine, "score": d.score_name,
                "threshold": d.threshold(), "clip_seconds": d.clip_seconds,
                "sample_rate": d.cfg.feat.sample_rate, "source": d.provenance.source,
            }
            for name, d in sorted(service.detectors.items())
        ]  # fmt: skip

    @app.get("/v1/health", tags=["service"])
    def health() -> JSONResponse:
        """``ready`` (200) once every model is loaded; ``loading`` or ``failed`` (503) before."""
        body = {"status": service.status, "models": sorted(service.detectors)}
        return JSONResponse(body, status_code=200 if service.status == "ready" else 503)

    @app.get("/metrics", tags=["service"], response_class=Response)
    def metrics() -> Response:
        """Prometheus text: files, windows and anomalies scored, alerts, latency, queue depth."""
        return Response(service.metrics.text(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/session", include_in_schema=False)
    async def session(request: Request) -> Response:
        return await sign_in(request, service.config.token)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return _page(HTMLResponse(page_text("index.html")))

    @app.get("/page/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return problem(404, f"No page file {name!r}.")
        return _page(Response(page_text(name), media_type=ASSETS[name]))


def _page(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _errors(app: FastAPI) -> None:
    @app.exception_handler(NotReady)
    async def _not_ready(request: Request, exc: NotReady) -> Response:
        return not_ready(str(exc))

    @app.exception_handler(UnknownModel)
    @app.exception_handler(UnknownSource)
    @app.exception_handler(NotWatching)
    async def _not_found(request: Request, exc: AeganError) -> Response:
        return error_answer(exc, 404)

    @app.exception_handler(AeganError)
    async def _user_error(request: Request, exc: AeganError) -> Response:
        return error_answer(exc, 422)


class Latency:
    """ASGI middleware: each request's time to its last byte, by route and status."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.metrics = service.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            endpoint = scope.get("endpoint")
            route = getattr(endpoint, "__name__", "unmatched")
            self.metrics.latency.labels(route, str(status[0])).observe(time.perf_counter() - began)
