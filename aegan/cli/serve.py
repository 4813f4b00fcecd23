"""`aegan serve`: scoring over HTTP and a live page, on FastAPI and uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aegan.cli.common import GpuOption, PrecisionOption, complete_model, reports_errors


@reports_errors
def serve(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            "-m",
            help="A model to serve (repeat for several).",
            autocompletion=complete_model,
        ),
    ],
    watch: Annotated[
        Path | None,
        typer.Option(
            "--watch",
            metavar="PLANT.YAML",
            help="Run the sources of `aegan watch`.",
            dir_okay=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="AEGAN_TOKEN",
            show_envvar=True,
            help="Require 'Authorization: Bearer TOKEN' (needed off 127.0.0.1).",
        ),
    ] = None,
    cors: Annotated[
        list[str] | None,
        typer.Option("--cors", metavar="ORIGIN", help="Let pages of this origin call the API."),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest upload accepted (413 beyond).")
    ] = 50.0,
    queue: Annotated[
        int, typer.Option("--queue", help="Recordings waiting or being scored (503 beyond).")
    ] = 64,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", help="Time limit of a request.")
    ] = 60.0,
    precision: PrecisionOption = "fp32",
    gpu: GpuOption = None,
) -> None:
    """Serve models over HTTP: POST /v1/score, GET /v1/models, /v1/health, /metrics, /docs,
    and a live page at /.

    Binds 127.0.0.1 unless --host says otherwise; any other address needs --token.
    """
    from aegan.detector.detector import Detector
    from aegan.serve.config import ServeConfig
    from aegan.serve.server import serve as run_service

    config = ServeConfig(
        models=tuple(model), host=host, port=port, token=token, cors=tuple(cors or ()),
        watch=watch, max_upload_mb=max_upload_mb, queue_size=queue, request_seconds=timeout,
    )  # fmt: skip
    run_service(config, lambda name: Detector.load(name, device=gpu, precision=precision))
