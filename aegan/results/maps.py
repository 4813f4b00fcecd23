"""Anomaly maps of files written for a user: a PNG and an ``.npz`` per input file.

The maps themselves come from ``aegan.detector.localize``; this module names the
outputs, draws them (``aegan.plots``) and reports each file's outcome, so that
one unusable file does not stop the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aegan.detector.detector import Detector
from aegan.detector.localize import localize_file, save_arrays
from aegan.detector.timeline import Timeline
from aegan.errors import AeganError
from aegan.plots import save_png, save_timeline_png
from aegan.progress import Progress, no_progress


@dataclass
class LocalizedFile:
    """Where one input's picture and arrays went; ``error`` is set (and nothing written) on failure."""

    path: Path
    png: Path | None = None
    arrays: Path | None = None
    error: str | None = None


def output_stems(files: Sequence[Path]) -> list[str]:
    """A distinct output name per input: its stem, numbered when two inputs share one."""
    seen: dict[str, int] = {}
    stems = []
    for file in files:
        key = file.stem.lower()
        seen[key] = seen.get(key, 0) + 1
        stems.append(file.stem if seen[key] == 1 else f"{file.stem}-{seen[key]}")
    return stems


def localize_files(
    detector: Detector,
    files: Sequence[Path],
    out_dir: Path,
    *,
    start: float | None = None,
    end: float | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
) -> list[LocalizedFile]:
    """A PNG and an ``.npz`` per file in ``out_dir``; a file that cannot be used is reported, not fatal."""
    results = []
    for done, (file, stem) in enumerate(zip(files, output_stems(files), strict=True), start=1):
        entry = LocalizedFile(Path(file))
        try:
            result = localize_file(detector, file, start=start, end=end, batch_size=batch_size)
        except AeganError as exc:
            entry.error = exc.message
        else:
            title = f"{entry.path.name}  ·  model {detector.name}"
            entry.png = save_png(result, out_dir / f"{stem}.png", title)
            entry.arrays = save_arrays(result, out_dir / f"{stem}.npz")
        results.append(entry)
        progress("Localising", done, len(files))
    return results


def timeline_pictures(timelines: Sequence[Timeline], folder: Path, model: str) -> list[Path]:
    """``<stem>-timeline.png`` per timeline in ``folder`` (numbered when stems repeat)."""
    stems = output_stems([t.path for t in timelines])
    return [
        save_timeline_png(line, Path(folder) / f"{stem}-timeline.png",
                          f"{line.path.name}  ·  {line.score_name} of model {model}")
        for line, stem in zip(timelines, stems, strict=True)
    ]  # fmt: skip
