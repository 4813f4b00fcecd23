"""Recordings of any length, as ``aegan score`` treats them: one number, or a timeline.

A recording longer than ``LONG_RECORDINGS`` reference clips gets a timeline
by default (docs/method.md section 13); shorter ones are scored as one clip,
batched together. Each recording gets a ``FileScore`` (for a timeline: its
worst window's score, anomalous when any window is), so one table and one
exit code cover both kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aegan.detector.batch_scoring import FileScore
from aegan.detector.timeline import Timeline
from aegan.errors import AeganError
from aegan.features.audio import probe
from aegan.features.stream import check_hop
from aegan.files import printable
from aegan.progress import Progress, no_progress

if TYPE_CHECKING:
    from aegan.detector.detector import Detector

LONG_RECORDINGS = 1.5
"""Recordings longer than this many reference clips get a timeline unless asked otherwise."""


@dataclass
class RecordingScore:
    """One recording's outcome, and its timeline when it was scored window by window."""

    result: FileScore
    timeline: Timeline | None = None


def wants_timeline(detector: Detector, path: Path) -> bool:
    """True for a recording long enough to be worth a timeline; False if it cannot be read."""
    try:
        seconds = probe(path, detector.cfg.feat.sample_rate).seconds
    except AeganError:
        return False  # scored as one clip, which reports the error
    return seconds > LONG_RECORDINGS * detector.clip_seconds


def timeline_result(path: Path, timeline: Timeline) -> FileScore:
    """A timeline summed up as one row: the worst window, anomalous if any window is."""
    worst = timeline.worst
    if worst is None:
        count, first = len(timeline.windows), timeline.windows[0].error
        return FileScore(
            path, error=f"none of its {count} windows could be scored; the first: {first}"
        )
    return FileScore(path, worst.score, timeline.anomalous)


def score_recordings(
    detector: Detector,
    files: Sequence[Path],
    *,
    timeline: bool | None = None,
    hop: float | None = None,
    score: str | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
) -> list[RecordingScore]:
    """Score files as one number each or as timelines (``timeline`` None: by length), in order.

    ``batch_size`` applies to the files scored whole; timelines keep their own, smaller one.
    """
    if hop is not None:
        check_hop(hop, detector.clip_seconds)  # a usage error, not one error per file
    as_timeline = [wants_timeline(detector, f) if timeline is None else timeline for f in files]
    whole = [f for f, t in zip(files, as_timeline, strict=True) if not t]
    whole_results = iter(
        detector.score_items(whole, score=score, batch_size=batch_size, progress=progress)
    )
    outcomes = []
    for path, windowed in zip(files, as_timeline, strict=True):
        if not windowed:
            outcomes.append(RecordingScore(next(whole_results)))
            continue
        try:
            line = detector.timeline(path, hop=hop, score=score, progress=progress)
        except AeganError as exc:
            outcomes.append(RecordingScore(FileScore(Path(path), error=exc.message)))
            continue
        outcomes.append(RecordingScore(timeline_result(Path(path), line), line))
    return outcomes


def recording_rows(outcomes: Sequence[RecordingScore], threshold: float) -> list[dict[str, Any]]:
    """The outcomes as JSON-ready rows, one per file; the threshold is shown for unreadable
    files too. ``aegan score --json`` and the service answer with these same rows."""
    return [
        {
            "file": printable(o.result.path),
            "score": o.result.score,
            "threshold": threshold,
            "decision": o.result.decision,
            "error": o.result.error,
            "timeline": o.timeline.to_dict() if o.timeline else None,
        }
        for o in outcomes
    ]


def scores_document(model: str | None, score: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON document of ``aegan score --json``: the model, the score and the rows."""
    return {"model": model, "score": score, "files": rows}
