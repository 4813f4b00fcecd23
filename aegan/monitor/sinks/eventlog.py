"""The append-only event log: one JSON object per line, each line written whole and flushed.

A line goes to the file in one ``write`` on a descriptor opened for appending,
with no buffer in between, so a crash leaves at most one partial last line. On
opening, such a partial line is ended with a newline, so that the next event
starts a line of its own; readers skip a line that does not parse.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aegan.errors import system_failure
from aegan.monitor.events import Event, event_from_dict


class EventLog:
    """An open event log; thread-safe (several sources may share one file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if _ends_mid_line(self.path):
                os.write(self._fd, b"\n")
        except OSError as exc:
            raise system_failure(exc, f"write the event log {self.path}", self.path) from None

    def write(self, event: Event) -> None:
        data = (event.to_json() + "\n").encode()
        with self._lock:
            view = memoryview(data)
            while view:  # one write for a line of any usual size; the loop is for a short write
                view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def read_event_dicts(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a log as dicts, in order; a partial or damaged line is skipped."""
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # the last line, cut short by a crash
            try:
                data = json.loads(line)
            except ValueError:
                continue  # a partial line ended by a restart
            if isinstance(data, dict) and "event" in data:
                yield data


def tail_event_dicts(path: Path, size: int) -> list[dict[str, Any]]:
    """The events in the last ``size`` bytes of a log (its first, partial line left out)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            start = max(0, fh.tell() - size)
            fh.seek(start)
            data = fh.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]
    events = []
    for line in lines[:-1]:  # the last piece has no newline: empty, or cut by a crash
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "event" in parsed:
            events.append(parsed)
    return events


def read_events(path: Path) -> list[Event]:
    """The typed events of a log (kinds this version does not know are left out)."""
    return [event_from_dict(d) for d in read_event_dicts(path) if _known(d)]


def _known(data: dict[str, Any]) -> bool:
    from aegan.monitor.events import EVENT_TYPES

    return data["event"] in EVENT_TYPES
