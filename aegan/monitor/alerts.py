"""The alert rule: an episode opens on k anomalous windows of the last n and closes after m
normal windows in a row (docs/events.md explains the default, 3 of 5 and 5).

Unusable windows neither raise nor clear an alert: they are not counted at all.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aegan.errors import UsageError


@dataclass(frozen=True)
class AlertRule:
    """Open on ``k`` of the last ``n`` windows anomalous; close after ``clear`` normal in a row."""

    k: int = 3
    n: int = 5
    clear: int = 5

    def __post_init__(self) -> None:
        if not (1 <= self.k <= self.n) or self.clear < 1:
            raise UsageError(
                f"The alert rule {self.k}/{self.n} with clear {self.clear} is not possible.",
                "Give --alert K/N with 1 <= K <= N (e.g. 3/5) and --clear M with M >= 1.",
            )

    def __str__(self) -> str:
        return f"{self.k}/{self.n}, clear {self.clear}"

    @classmethod
    def parse(cls, alert: str, clear: int | None = None) -> AlertRule:
        """``"3/5"`` (and a clear count, default the rule's ``n``) as a rule."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(alert))
        if not match:
            raise UsageError(
                f"Cannot read the alert rule {alert!r}.",
                "Give K/N: open an alert when K of the last N windows are anomalous, e.g. 3/5.",
            )
        k, n = int(match[1]), int(match[2])
        return cls(k, n, n if clear is None else int(clear))


@dataclass
class Episode:
    """An open alert: its number, first anomalous window, worst window, counts."""

    number: int
    first: Any  # the first anomalous window of the episode (the one k counted from)
    last: Any  # its latest anomalous window
    worst: Any
    anomalous: int
    windows: int  # windows since ``first``, inclusive


@dataclass
class AlertTracker:
    """The rule applied to one source's windows, in order. ``update`` says what changed.

    A window is anything with ``score`` and ``anomalous``; the tracker keeps the
    last n decisions, and while an episode is open, its windows.
    """

    rule: AlertRule
    recent: deque = field(default_factory=deque)  # (anomalous, window) of the last n windows
    episode: Episode | None = None
    normal_run: int = 0  # normal windows in a row while an episode is open
    pending_normal: int = 0  # of them, those not yet counted in the episode's windows
    episodes: int = 0  # episodes opened so far

    def update(self, window: Any) -> tuple[str | None, Episode | None]:
        """Take the next window: ("opened" | "closed" | None, the episode concerned)."""
        self.recent.append((bool(window.anomalous), window))
        while len(self.recent) > self.rule.n:
            self.recent.popleft()
        if self.episode is None:
            return self._maybe_open()
        return self._continue(window)

    def _maybe_open(self) -> tuple[str | None, Episode | None]:
        flagged = [w for anomalous, w in self.recent if anomalous]
        if len(flagged) < self.rule.k:
            return None, None
        self.episodes += 1
        first = flagged[0]
        windows = len(self.recent) - next(i for i, (a, _) in enumerate(self.recent) if a)
        worst = max(flagged, key=lambda w: w.score)
        self.episode = Episode(self.episodes, first, flagged[-1], worst, len(flagged), windows)
        self.normal_run = self.pending_normal = 0
        return "opened", self.episode

    def _continue(self, window: Any) -> tuple[str | None, Episode | None]:
        episode = self.episode
        assert episode is not None
        if window.anomalous:
            self.normal_run = 0
            episode.anomalous += 1
            episode.windows += 1 + self.pending_normal
            self.pending_normal = 0
            episode.last = window
            if window.score > episode.worst.score:
                episode.worst = window
            return None, None
        self.normal_run += 1
        self.pending_normal += 1
        if self.normal_run < self.rule.clear:
            return None, None
        self.episode, self.normal_run, self.pending_normal = None, 0, 0
        self.recent.clear()  # a new episode needs k fresh anomalous windows
        return "closed", episode
