"""How long-running library calls report progress without printing.

A library function that takes a while accepts ``progress: Progress``: a
callable invoked as ``progress(task, done, total)`` with a short task
description, the amount done so far (cumulative) and the total, or None when
unknown. The command line turns these calls into rich progress bars.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, task: str, done: float, total: float | None) -> None: ...


def no_progress(task: str, done: float, total: float | None) -> None:
    """The default: report nothing."""
