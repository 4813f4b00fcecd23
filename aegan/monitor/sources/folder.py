"""A folder that a recorder fills: each new WAV/FLAC file (subfolders too) scored once, complete.

A file is complete when its size and modification time have held still for the
settle time, or when the writer closed it (inotify's close-after-write). The
folder is watched with watchdog's file-system events; where they cannot be had
(or with ``poll``), watchdog's polling observer stands in. A full rescan every
``RESCAN_SECONDS`` catches anything an event missed. Files already there at
the first start are skipped unless ``from_start``; after a restart, the state
file says which were scored, so none is scored twice and none is missed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from aegan.dcase.clips import AUDIO_SUFFIXES
from aegan.errors import DataError, SystemFailure
from aegan.monitor.sources.feed import Feed
from aegan.monitor.sources.files import read_file_windows, stamp_of
from aegan.monitor.spec import SourceSpec

RESCAN_SECONDS = 30.0
TICK_SECONDS = 0.2


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


class _Events:
    """watchdog's events reduced to what matters: paths that changed or closed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.touched: set[Path] = set()
        self.closed: set[Path] = set()

    def dispatch(self, event) -> None:  # watchdog's handler interface
        path = Path(getattr(event, "dest_path", "") or event.src_path)
        if event.is_directory:  # a new folder: its files may be there before its watch is
            if event.event_type in ("created", "moved"):
                found = {p for p in path.rglob("*") if p.is_file()}
                with self.lock:
                    self.touched |= found
            return
        with self.lock:
            self.touched.add(path)
            if event.event_type == "closed":
                self.closed.add(path)

    def take(self) -> tuple[set[Path], set[Path]]:
        with self.lock:
            touched, closed = self.touched, self.closed
            self.touched, self.closed = set(), set()
        return touched, closed


def watchdog_observers() -> tuple[type, type]:
    """watchdog's native and polling observers, or one clear message when it is missing."""
    try:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver
    except ImportError:
        raise SystemFailure(
            "Watching a folder needs the watchdog package, which is not installed.",
            "Install it: pip install 'aegan[watch]'.",
        ) from None
    return Observer, PollingObserver


class FolderReader:
    """Watches one folder until the monitor stops."""

    def __init__(self, spec: SourceSpec) -> None:
        watchdog_observers()  # before listening starts
        self.spec = spec
        self.root = Path(spec.target).expanduser()
        if not self.root.is_dir():
            raise DataError(
                f"{self.root} is not a folder."
                if self.root.exists()
                else f"{self.root} does not exist.",
                "Give the folder the recorder writes into (create it first).",
            )
        self.candidates: dict[Path, tuple[list[int], float]] = {}  # stamp, when it last changed
        self.queued: dict[str, list[int]] = {}  # files read in this run (their windows may wait)
        self.existing = {p: s for p in self._scan() if (s := stamp_of(p))}  # there at the start

    def run(self, feed: Feed) -> None:
        runtime = feed.runtime
        if not runtime.state_path.exists() and not self.spec.from_start:
            runtime.files_seen({self._key(p): stamp for p, stamp in self.existing.items()})
        events = _Events()
        observer = self._observe(events)
        try:
            self._watch(feed, events)
        finally:
            observer.stop()
            observer.join(5)

    def _observe(self, events: _Events):
        Observer, PollingObserver = watchdog_observers()

        for kind in ([] if self.spec.poll else [Observer]) + [PollingObserver]:
            observer = kind(timeout=1) if kind is PollingObserver else kind()
            try:
                observer.schedule(events, str(self.root), recursive=True)
                observer.start()
                return observer
            except OSError:  # e.g. no inotify watches left: poll instead
                continue
        raise DataError(f"Cannot watch {self.root}.")

    def _watch(self, feed: Feed, events: _Events) -> None:
        last_scan = -RESCAN_SECONDS
        while not feed.stopping.is_set():
            now = time.monotonic()
            touched, closed = events.take()
            if now - last_scan >= RESCAN_SECONDS:
                touched |= set(self._scan())
                last_scan = now
            self._note(feed, touched, now)
            for path in self._ready(closed, now):
                if feed.stopping.is_set():
                    return
                stamp = stamp_of(path)
                if stamp is not None:
                    self.queued[self._key(path)] = stamp
                    read_file_windows(feed, path, self._key(path), stamp)
            feed.stopping.wait(TICK_SECONDS)

    def _note(self, feed: Feed, paths: set[Path], now: float) -> None:
        """New or changed audio files become candidates; files already scored are left."""
        done = feed.runtime.done_files()
        for path in paths:
            if not _is_audio(path):
                continue
            stamp = stamp_of(path)
            key = self._key(path)
            if stamp is None or stamp in (done.get(key), self.queued.get(key)):
                continue
            if path not in self.candidates or self.candidates[path][0] != stamp:
                self.candidates[path] = (stamp, now)

    def _ready(self, closed: set[Path], now: float) -> list[Path]:
        """Candidates that held still for the settle time (or were closed), oldest first.

        A complete file waits while an older one still settles, so that files are
        scored in the order they were written (the alert rule runs across them).
        """
        ready, settling = [], []
        for path, (stamp, since) in list(self.candidates.items()):
            current = stamp_of(path)
            if current is None:  # removed or renamed away
                del self.candidates[path]
            elif current != stamp:
                self.candidates[path] = (current, now)
                settling.append(current[1])
            elif (now - since >= self.spec.settle or path in closed) and current[0] > 0:
                ready.append((current[1], str(path), path))
            else:
                settling.append(current[1])
        oldest_settling = min(settling, default=None)
        chosen = [r for r in sorted(ready) if oldest_settling is None or r[0] <= oldest_settling]
        for _, _, path in chosen:
            del self.candidates[path]
        return [path for _, _, path in chosen]

    def _scan(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if _is_audio(p) and p.is_file()]

    def _key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def close(self) -> None:
        """Nothing to interrupt: the reader checks ``stopping`` every tick."""
