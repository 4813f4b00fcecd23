"""The audio of each alert as a WAV file: pre-roll, the episode's windows, post-roll.

The recent windows' samples are kept (enough for the pre-roll and the n windows
the rule looks back on); while an alert is open, every window is kept too, up
to ``MAX_SECONDS``. Pre- and post-roll are counted in windows (a hop each).
Overlapping windows of one file or stream are stitched where the earlier one
ends. The folder is kept under a size cap by removing the oldest snippets.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.errors import system_failure
from aegan.paths import atomic_path

MAX_SECONDS = 600.0
"""An alert's snippet holds at most this much audio (the rest of a long episode is left out)."""


Item = tuple[int, str | None, float, np.ndarray]
"""A window's audio: its seq, file (None for a stream), offset (s) and mono samples."""


class Snippets:
    """Alert snippets of one source, written into ``folder``."""

    def __init__(
        self, folder: Path, rate: int, hop: float, look_back: int, pre_roll: float,
        post_roll: float, max_mb: float,
    ) -> None:  # fmt: skip
        self.folder, self.rate, self.max_bytes = Path(folder), rate, max_mb * 1e6
        self.pre_windows = math.ceil(pre_roll / hop)
        self.post_windows = math.ceil(post_roll / hop)
        self.max_windows = math.ceil(MAX_SECONDS / hop)
        self.history: deque[Item] = deque(maxlen=look_back + self.pre_windows + 1)
        self.episode: list[Item] | None = None
        self.first_seq = 0

    def window(self, seq: int, file: str | None, offset: float, wave: np.ndarray) -> None:
        item = (seq, file, offset, wave)
        self.history.append(item)
        if self.episode is not None and len(self.episode) < self.max_windows:
            self.episode.append(item)

    def opened(self, first_seq: int) -> None:
        self.first_seq = first_seq
        self.episode = [i for i in self.history if i[0] >= first_seq - self.pre_windows]

    def closed(self, source: str, number: int, last_seq: int, start: str) -> str | None:
        """Write the snippet of the closing alert; its path, or None when there was no audio."""
        items, self.episode = self.episode or [], None
        chosen = [i for i in items if i[0] <= last_seq + self.post_windows and i[3].size]
        samples = stitch(chosen, self.rate)
        if samples.size == 0:
            return None
        stamp = start.replace(":", "").replace("-", "")[:15]
        target = self.folder / f"{source}-alert{number}-{stamp}.wav"
        try:
            with atomic_path(target, ".wav") as tmp:
                sf.write(str(tmp), samples, self.rate, "FLOAT", format="WAV")
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


def stitch(items: list[Item], rate: int) -> np.ndarray:
    """Windows in order as one stretch: within a file or stream, each adds only the samples
    after the previous one's end; a window of another file is added whole."""
    parts, file, covered = [], object(), 0.0
    for _, where, offset, wave in items:
        skip = round((covered - offset) * rate) if where == file and offset < covered else 0
        if skip < wave.size:
            parts.append(wave[skip:])
        file, covered = where, max(covered if where == file else 0.0, offset + wave.size / rate)
    return np.concatenate(parts) if parts else np.empty(0, np.float32)
