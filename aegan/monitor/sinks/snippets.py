"""The audio of each alert as a WAV file: pre-roll, the episode's windows, post-roll.

The recent windows' samples are kept (enough for the pre-roll and the n windows
the rule looks back on); while an alert is open, every window is kept too, up
to ``MAX_SECONDS``. Overlapping windows are stitched where the earlier one
ends. The folder is kept under a size cap by removing the oldest snippets.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.errors import system_failure
from aegan.monitor.events import iso, parse_iso
from aegan.paths import atomic_path

MAX_SECONDS = 600.0
"""An alert's snippet holds at most this much audio (the rest of a long episode is left out)."""


class Snippets:
    """Alert snippets of one source, written into ``folder``."""

    def __init__(
        self, folder: Path, rate: int, hop: float, look_back: int, pre_roll: float,
        post_roll: float, max_mb: float,
    ) -> None:  # fmt: skip
        self.folder, self.rate = Path(folder), rate
        self.pre_roll, self.post_roll, self.max_bytes = pre_roll, post_roll, max_mb * 1e6
        keep = look_back + math.ceil(pre_roll / max(hop, 1e-3)) + 2
        self.history: deque[tuple[float, float, np.ndarray]] = deque(maxlen=keep)
        self.episode: list[tuple[float, float, np.ndarray]] | None = None
        self.episode_start = 0.0

    def window(self, start_ts: float, seconds: float, wave: np.ndarray) -> None:
        item = (start_ts, start_ts + seconds, wave)
        self.history.append(item)
        if self.episode is not None and _span(self.episode) < MAX_SECONDS:
            self.episode.append(item)

    def opened(self, start: str) -> None:
        self.episode_start = parse_iso(start)
        begin = self.episode_start - self.pre_roll
        self.episode = [item for item in self.history if item[1] > begin]

    def closed(self, source: str, number: int, end: str) -> str | None:
        """Write the snippet of the closing alert; its path, or None when there was no audio."""
        items, self.episode = self.episode or [], None
        stop = parse_iso(end) + self.post_roll
        begin = self.episode_start - self.pre_roll
        samples = stitch(
            [i for i in items if i[0] < stop and i[1] > begin and i[2].size], self.rate
        )
        if samples.size == 0:
            return None
        stamp = iso(self.episode_start).replace(":", "").replace("-", "")[:15]
        target = self.folder / f"{source}-alert{number}-{stamp}.wav"
        try:
            with atomic_path(target, ".wav") as tmp:
                sf.write(str(tmp), samples, self.rate, subtype="FLOAT")
            self._cap(target)
        except OSError as exc:
            raise system_failure(exc, f"write the alert snippet {target}") from None
        return str(target)

    def _cap(self, keep: Path) -> None:
        """Remove the oldest snippets while the folder is over its cap (never ``keep``)."""
        files = sorted(self.folder.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for old in files:
            if total <= self.max_bytes:
                break
            if old != keep:
                total -= old.stat().st_size
                old.unlink(missing_ok=True)


def _span(items: list[tuple[float, float, np.ndarray]]) -> float:
    return items[-1][1] - items[0][0] if items else 0.0


def stitch(items: list[tuple[float, float, np.ndarray]], rate: int) -> np.ndarray:
    """Windows in time order as one stretch: each adds only what follows the previous one."""
    parts, covered = [], -math.inf
    for start, end, wave in items:
        skip = 0 if start >= covered else round((covered - start) * rate)
        if skip < wave.size:
            parts.append(wave[skip:])
        covered = max(covered, end)
    return np.concatenate(parts) if parts else np.empty(0, np.float32)
