"""The routes of a watched plant: ``/v1/sources``, ``/v1/events`` (SSE), a source's windows."""

from __future__ import annotations

from fastapi import FastAPI, Header, Query, Request
from starlette.responses import StreamingResponse

from aegan.errors import AeganError
from aegan.serve.events import last_event_id
from aegan.serve.service import Service
from aegan.serve.watching import Watch

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class NotWatching(AeganError):
    """The service was started without --watch (HTTP 404)."""


def watching(service: Service) -> Watch:
    service.scoring_queue()  # refuses while loading
    if service.watch is None:
        raise NotWatching(
            "This service watches no plant.",
            "Start it with aegan serve --watch plant.yaml to run the sources of aegan watch.",
        )
    return service.watch


def add_watch_routes(app: FastAPI, service: Service) -> None:
    @app.get("/v1/sources", tags=["sources"])
    def sources() -> dict:
        """Every source's state now, and ``last_event_id``: open /v1/events?after=that
        to follow from here without a gap."""
        watch = watching(service)
        return {"last_event_id": watch.log.last_id, "sources": watch.sources()}

    @app.get("/v1/sources/{name}/windows", tags=["sources"])
    def windows(
        name: str,
        since: str | None = Query(None, description="A window's seq, or an ISO UTC time."),
    ) -> list[dict]:
        """The source's latest windows, oldest first (those after ``since``)."""
        return watching(service).windows(name, since)

    @app.get("/v1/events", tags=["sources"], response_class=StreamingResponse)
    async def events(
        request: Request,
        after: int | None = Query(None, description="Start after this event id."),
        last_event_id_header: str | None = Header(None, alias="Last-Event-ID"),
    ) -> StreamingResponse:
        """Server-Sent Events: every event of every source (docs/serve-api.md). A client
        that reconnects with Last-Event-ID gets the events it missed, if still kept."""
        log = watching(service).log
        resumed = last_event_id(last_event_id_header)
        start = resumed if resumed is not None else after if after is not None else log.last_id
        return StreamingResponse(
            log.stream(start, service.config.stream_seconds), media_type="text/event-stream",
            headers=SSE_HEADERS,
        )  # fmt: skip
