"""`aegan export`: a model as an ONNX graph and its numbers, for runtimes without PyTorch."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from aegan.cli.common import JsonOption, complete_model, console, print_json, reports_errors


class ExportFormat(str, Enum):
    onnx = "onnx"


@reports_errors
def export(
    model: Annotated[
        str,
        typer.Argument(
            help="Model name (see `aegan models`) or bundle path.",
            autocompletion=complete_model,
            show_default=False,
        ),
    ],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="The exported format.")
    ] = ExportFormat.onnx,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="The .onnx file to write (default: NAME.onnx here); NAME.npz goes beside it.",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Export a model to ONNX and .npz, to score without PyTorch.

    The networks go to the ONNX file (dynamic batch); the scaling, reference
    embeddings and threshold to an .npz beside it.
    numpy and onnxruntime then reproduce the model's score and decision without
    PyTorch: see aegan/export/onnx_scorer.py (OnnxScorer). Needs the export
    extra: pip install 'aegan[export]'.
    """
    from aegan.detector.detector import Detector
    from aegan.export.onnx_export import export_onnx

    detector = Detector.load(model)
    target = out if out is not None else Path(f"{detector.name}.onnx")
    files = export_onnx(detector, target, overwrite=force)
    if json_out:
        print_json(
            {
                "model": detector.name,
                "format": export_format.value,
                "onnx": str(files.onnx),
                "sidecar": str(files.sidecar),
                "score": files.score,
                "threshold": files.threshold,
            }
        )
        return
    console.print(f"Exported {detector.name} to {files.onnx} and {files.sidecar}", highlight=False)
    console.print(f"score {files.score}, threshold {files.threshold:.6g}", highlight=False)
