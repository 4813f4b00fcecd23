"""A long recording as a timeline: the score and decision of each clip-long window (docs/method.md section 13).

Windows last the model's reference clip and start every ``hop`` seconds; one
more window ends on the recording's last sample, so nothing is left out. Each
window is read, turned into a spectrogram and scored exactly as the same
stretch cut out as a clip would be, and the windows of a batch go through the
networks together. Only one batch of windows is in memory at a time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aegan.detector.batch_scoring import decision_word
from aegan.detector.scorer import ClipScorer
from aegan.detector.waveforms import InputTypeError, kind_of, unusable
from aegan.errors import AeganError
from aegan.features.audio import NON_FINITE, unusable_reason
from aegan.features.stream import plan_windows, read_windows
from aegan.progress import Progress, no_progress

WINDOWS_PER_BATCH = 16
"""Windows read and scored together: a few minutes of audio, enough to fill network batches."""

TIMELINE_BATCH_SIZE = 128
"""Segments per network pass in a timeline: at full size, peak memory stays near 1 GB."""


@dataclass(frozen=True)
class Window:
    """One window: where it lies (seconds), its score and decision, or why it could not be used."""

    start: float
    end: float
    score: float | None
    anomalous: bool | None
    error: str | None = None

    @property
    def decision(self) -> str | None:
        return decision_word(self.anomalous)


@dataclass
class Timeline:
    """The windows of one recording, scored with one score against one threshold."""

    path: Path
    score_name: str
    threshold: float
    window_seconds: float
    hop_seconds: float
    windows: list[Window] = field(default_factory=list)

    @property
    def worst(self) -> Window | None:
        """The window with the highest score (None when no window could be scored)."""
        scored = [w for w in self.windows if w.score is not None]
        return max(scored, key=lambda w: w.score) if scored else None

    @property
    def anomalous(self) -> bool:
        return any(w.anomalous for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the settings, every window and the worst one."""
        worst = self.worst
        return {
            "file": str(self.path),
            "score": self.score_name,
            "threshold": self.threshold,
            "window_seconds": self.window_seconds,
            "hop_seconds": self.hop_seconds,
            "windows": [_window_dict(w) for w in self.windows],
            "worst": None if worst is None else _window_dict(worst),
        }


def _window_dict(window: Window) -> dict[str, Any]:
    return {**asdict(window), "decision": window.decision}


def score_timeline(
    detector: ClipScorer,
    path: Path | str,
    *,
    hop: float | None = None,
    start: float | None = None,
    end: float | None = None,
    score: str | None = None,
    batch_size: int = TIMELINE_BATCH_SIZE,
    progress: Progress = no_progress,
) -> Timeline:
    """Score a recording window by window (``hop`` seconds apart, default one window).

    ``start``/``end`` (seconds) limit it to a stretch. A window that cannot be
    scored (silent, too short) is reported in its ``error``; a file that cannot
    be read raises ``AudioError`` naming it.
    """
    if not isinstance(path, (str, Path)):
        raise InputTypeError(
            f"timeline() reads a file window by window; got {kind_of(path)}.",
            "Write the samples to a file (soundfile.write) and pass its path, "
            "or score them as one clip with score().",
        )
    name = score or detector.score_name
    feat = detector.cfg.feat
    seconds = detector.clip_seconds
    hop = seconds if hop is None else hop
    plan = plan_windows(Path(path), feat.sample_rate, seconds, hop, start, end, feat.channel)
    result = Timeline(Path(path), name, detector.threshold(name), seconds, hop)
    done, reasons = 0, set()
    for starts, waves in read_windows(plan, feat.sample_rate, WINDOWS_PER_BATCH, feat.channel):
        windows = _score_batch(detector, plan, starts, waves, name, batch_size, reasons)
        result.windows.extend(windows)
        done += len(starts)
        progress("Scoring windows", done, len(plan.starts))
    if result.worst is None and len(reasons) == 1:  # e.g. a recording that is all silence
        raise unusable(str(path), reasons.pop())
    return result


def _score_batch(
    detector, plan, starts, waves, name: str, batch_size: int, reasons: set[str]
) -> list[Window]:
    """Score one batch of windows of a file together; unusable windows get their reason instead.

    Non-finite samples make the whole recording unusable, as they make a file
    (features/audio.py); a silent stretch only its windows. ``reasons`` collects
    why windows were unusable.
    """
    spans = [(plan.seconds(int(s)), plan.seconds(int(s) + plan.length)) for s in starts]
    whats = [f"{plan.info.path} from {begin:.2f} s to {finish:.2f} s" for begin, finish in spans]
    errors: list[str | None] = []
    for what, wave in zip(whats, waves, strict=True):
        reason = unusable_reason(wave)
        if reason == NON_FINITE:
            raise unusable(str(plan.info.path), reason)
        if reason is not None:
            reasons.add(reason)
        errors.append(None if reason is None else unusable(what, reason).message)
    windows = score_windows(detector, spans, waves, whats, errors, name, batch_size)
    reasons.update(w.error for w, e in zip(windows, errors, strict=True) if e is None and w.error)
    return windows


def score_windows(
    detector: ClipScorer,
    spans: list[tuple[float, float]],
    waves: list[np.ndarray],
    whats: list[str],
    errors: list[str | None],
    name: str,
    batch_size: int = TIMELINE_BATCH_SIZE,
) -> list[Window]:
    """Score the windows whose ``errors`` entry is None in one go; the others keep their error.

    The one path from window waveforms (mono, the model's rate) to scores and
    decisions, shared by timelines and the monitor (``aegan watch``): windows of
    several recordings may be scored together. ``whats`` name the windows in
    messages; a window too short to score gets that message as its error.
    """
    errors = list(errors)
    spectrograms = []
    for index, (what, wave) in enumerate(zip(whats, waves, strict=True)):
        if errors[index] is not None:
            continue
        try:
            spectrograms.append(detector.checked_spectrogram(wave, what))
        except AeganError as exc:  # too short to score: the last window of a stretch, say
            errors[index] = exc.message
    values = iter(np.empty(0))
    if spectrograms:
        column = detector.score_spectrograms(spectrograms, batch_size=batch_size).column(name)
        values = iter(column)
    windows = []
    for (begin, finish), error in zip(spans, errors, strict=True):
        if error is not None:
            windows.append(Window(begin, finish, None, None, error))
            continue
        value = float(next(values))
        windows.append(Window(begin, finish, value, bool(detector.decide(value, name))))
    return windows
