"""``POST /v1/score``: one uploaded recording scored exactly as ``aegan score --json`` scores it.

The answer is the document of ``aegan score --json`` for that one file, built
by the same library functions (``recording_rows``, ``scores_document``); the
file is named by the client's file name, never by where the service kept it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
from fastapi import Query, Request
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from aegan.detector.file_scoring import recording_rows, scores_document
from aegan.features.stream import check_hop
from aegan.score_names import score_index
from aegan.serve.answers import problem
from aegan.serve.batching import Job, QueueFull, Settings
from aegan.serve.service import Service
from aegan.serve.uploads import UploadError, receive, too_large, upload_folder

TIMELINE_HELP = "true: window by window; false: as one clip; absent: by length, as `aegan score`."


def renamed(value: Any, folder: Path) -> Any:
    """``value`` with the upload's private folder taken out of every path and message."""
    if isinstance(value, str):
        return value.replace(f"{folder}/", "")
    if isinstance(value, dict):
        return {key: renamed(item, folder) for key, item in value.items()}
    if isinstance(value, list):
        return [renamed(item, folder) for item in value]
    return value


def settings_of(
    service: Service, model: str | None, score: str | None, hop: float | None, timeline: bool | None
) -> Settings:
    """The request's scoring settings, checked before a byte of the upload is read."""
    name, detector = service.detector(model)
    chosen = score or detector.score_name
    score_index(chosen)
    if hop is not None:
        check_hop(hop)
    return Settings(name, chosen, timeline, hop)


async def score_upload(
    request: Request,
    model: str | None = Query(None, description="A served model (GET /v1/models)."),
    score: str | None = Query(None, description="One of the 19 scores; default: the model's."),
    hop: float | None = Query(None, description="Seconds between timeline windows."),
    timeline: bool | None = Query(None, description=TIMELINE_HELP),
) -> Response:
    """Score a WAV or FLAC file: multipart/form-data (field ``file``) or the raw body.

    Answers with the JSON of ``aegan score --json`` for that file.
    """
    service: Service = request.app.state.service
    settings = settings_of(service, model, score, hop, timeline)
    limit = service.config.max_upload_bytes
    if int(request.headers.get("content-length") or 0) > limit:
        return problem(413, too_large(limit).message)
    phase = "receiving the upload"
    try:
        with (
            anyio.fail_after(service.config.request_seconds),
            upload_folder(service.folder) as folder,
        ):
            path = await receive(
                request.stream(), request.headers.get("content-type", ""), folder, limit
            )
            phase = "scoring"
            future = service.scoring_queue().submit(Job(path, settings))
            outcome = await asyncio.wrap_future(future)
    except UploadError as exc:
        return problem(exc.status, exc.message)
    except QueueFull as exc:
        return problem(
            503, "The service is busy: its scoring queue is full.",
            f"Retry in {exc.retry_after} s.", {"Retry-After": str(exc.retry_after)},
        )  # fmt: skip
    except TimeoutError:
        status = 408 if phase == "receiving the upload" else 504
        seconds = f"{service.config.request_seconds:g}"
        return problem(
            status,
            f"The request ran out of time ({seconds} s) while {phase}.",
            "Send a shorter recording, or start the service with a longer --timeout.",
        )
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening; the upload is already deleted
    detector = service.detectors[settings.model]
    row = renamed(recording_rows([outcome], detector.threshold(settings.score))[0], folder)
    if row["error"] is not None:
        return problem(422, row["error"])
    return JSONResponse(scores_document(detector.name, settings.score, [row]))
