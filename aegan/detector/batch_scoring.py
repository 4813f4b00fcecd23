"""Many recordings scored in batches, each with its decision or its error, as the CLI reports them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aegan.detector.scorer import ClipScorer
from aegan.detector.waveforms import Item, check_sample_rate, describe, recordings
from aegan.errors import AeganError
from aegan.progress import Progress, no_progress

FILES_PER_BATCH = 32
"""Items read and scored together by ``score_items``: enough to fill batches, little memory."""


@dataclass
class FileScore:
    """One item's result; ``error`` is set (and the numbers are None) when it could not be used.

    ``path`` is the file, or for an array the name errors give it ("Waveform 2").
    """

    path: Path | str
    score: float | None = None
    anomalous: bool | None = None
    error: str | None = None

    @property
    def decision(self) -> str | None:
        return decision_word(self.anomalous)


def decision_word(anomalous: bool | None) -> str | None:
    """ "anomaly", "normal", or None for a recording or window that could not be scored."""
    if anomalous is None:
        return None
    return "anomaly" if anomalous else "normal"


def score_items(
    detector: ClipScorer,
    items: Sequence[Item],
    *,
    score: str | None = None,
    sample_rate: int | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
) -> list[FileScore]:
    """Score many recordings in batches, with decisions; an unusable one gets its ``error``."""
    name = score or detector.score_name
    rate = check_sample_rate(sample_rate)
    items = recordings(items)[1]
    results = [
        FileScore(Path(item) if isinstance(item, (str, Path)) else describe(item, index))
        for index, item in enumerate(items)
    ]
    for start in range(0, len(items), FILES_PER_BATCH):
        readable, spectrograms = [], []
        for index in range(start, min(start + FILES_PER_BATCH, len(items))):
            result = results[index]
            try:
                spectrograms.append(detector.spectrogram(items[index], rate, str(result.path)))
            except AeganError as exc:
                result.error = exc.message
                continue
            readable.append(result)
        if spectrograms:
            values = detector.score_spectrograms(spectrograms, batch_size=batch_size).column(name)
            for result, value, anomalous in zip(
                readable, values, detector.decide(values, name), strict=True
            ):
                result.score = float(value)
                result.anomalous = bool(anomalous)
        progress("Scoring files", min(start + FILES_PER_BATCH, len(items)), len(items))
    return results
