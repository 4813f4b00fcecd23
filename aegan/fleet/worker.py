"""What a worker does with a chunk: load its model once, score the files as `aegan score` does.

Each worker process keeps the detectors it loaded, keyed by model name, bundle
digest, device and precision, so a thousand chunks of one model load it once
per worker. Scoring is ``score_recordings`` (aegan/model/recordings.py): a
long file's rows are exactly the windows of `aegan score --timeline`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from aegan.detector.detector import Detector
from aegan.detector.file_scoring import RecordingScore, score_recordings
from aegan.errors import AeganError, ModelError
from aegan.features.audio import probe
from aegan.fleet.chunks import Chunk, ScoreSettings
from aegan.fleet.inputs import Entry, ModelRef
from aegan.fleet.parts import write_part
from aegan.model.devices import resolve_device
from aegan.paths import file_digests

_detectors: dict[tuple[str, str, str, str], Detector] = {}
_loading = threading.Lock()


@dataclass(frozen=True)
class ChunkDone:
    """What a task reports back: its part, and how much it scored (for throughput)."""

    index: int
    part: Path
    files: int
    audio_seconds: float
    seconds: float


def cached_detector(model: ModelRef, device: torch.device, precision: str) -> Detector:
    """The model, loaded once per process; a bundle changed since the run began is refused."""
    key = (model.name, model.digest, str(device), precision)
    with _loading:
        if key not in _detectors:
            if file_digests(model.path)[1] != model.digest:
                raise ModelError(
                    f"The bundle {model.path} of model {model.name} changed during the run.",
                    "Run the command again: the new bundle's results go to new parts.",
                )
            _detectors[key] = Detector.load(model.path, device=device, precision=precision)
    return _detectors[key]


def score_chunk(chunk: Chunk, settings: ScoreSettings, out: Path) -> ChunkDone:
    """Score a chunk's files and write its part; returns what it did."""
    started = time.perf_counter()
    detector = cached_detector(chunk.model, resolve_device(settings.device), settings.precision)
    name = settings.score or detector.score_name
    files = [e.path for e in chunk.entries]
    outcomes = score_recordings(
        detector, files, timeline=settings.timeline, hop=settings.hop, score=name
    )
    context = {
        "threshold": detector.threshold(name),
        "model": chunk.model.name,
        "model_hash": chunk.model.digest,
    }
    rows, audio = [], 0.0
    for entry, outcome in zip(chunk.entries, outcomes, strict=True):
        duration = _duration(entry.path, detector)
        audio += duration or 0.0
        rows += outcome_rows(entry, outcome, duration, context)
    part = write_part(out / chunk.part, rows)
    return ChunkDone(chunk.index, part, len(files), audio, time.perf_counter() - started)


def _duration(path: Path, detector: Detector) -> float | None:
    try:
        return probe(path, detector.cfg.feat.sample_rate).seconds
    except AeganError:
        return None


def outcome_rows(
    entry: Entry, outcome: RecordingScore, duration: float | None, context: dict
) -> list[dict]:
    """A file's rows: one per timeline window, or one for the file scored whole (or its error)."""
    base = {"file": str(entry.path), "source": entry.source, "duration": duration, **context}
    result = outcome.result
    if outcome.timeline is None:
        whole = result.error is None
        return [
            {
                **base,
                "start": 0.0 if whole else None,
                "end": duration if whole else None,
                "score": result.score,
                "decision": result.decision,
                "error": result.error,
            }
        ]
    return [
        {
            **base,
            "start": w.start,
            "end": w.end,
            "score": w.score,
            "decision": w.decision,
            "error": w.error,
        }
        for w in outcome.timeline.windows
    ]
