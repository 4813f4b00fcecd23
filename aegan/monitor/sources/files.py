"""One complete recording of a watched folder, read window by window as a timeline reads it."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from aegan.errors import AeganError
from aegan.features.audio import unreadable
from aegan.features.stream import plan_windows, read_stretch
from aegan.monitor.sources.feed import Feed
from aegan.monitor.windows import RawWindow


def stamp_of(path: Path) -> list[int] | None:
    """[size, mtime_ns] of a file, or None when it is gone."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def read_file_windows(feed: Feed, path: Path, key: str, stamp: list[int]) -> None:
    """Queue the file's windows from where a restart left off; a bad file is an error event.

    Windows are planned and read as ``model.timeline`` does (``features.stream``);
    a file's start time is its modification time less its duration.
    """
    runtime = feed.runtime
    try:
        plan = plan_windows(path, feed.model_rate, feed.window_seconds, feed.hop_seconds)
        rate = plan.info.sample_rate
        t0 = stamp[1] / 1e9 - plan.info.seconds
        first = runtime.resume_point(key)
        with sf.SoundFile(str(path)) as fh:
            for index in range(first, len(plan.starts)):
                if feed.stopping.is_set():
                    return  # the state says where to resume
                start = int(plan.starts[index])
                mono = read_stretch(fh, start, plan.length, rate)
                raw = RawWindow(start, mono, rate)
                what = f"{path} from {raw.offset:.2f} s to {raw.offset + raw.seconds:.2f} s"
                last = index == len(plan.starts) - 1
                feed.window(raw, t0 + raw.offset, what, file=key, index=index, last=last,
                            stamp=stamp)  # fmt: skip
    except AeganError as exc:
        _failed(feed, key, stamp, exc.message, exc.hint)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        if not path.exists():
            _failed(feed, key, stamp, f"{path} was removed while it was being read.", None)
        else:
            error = unreadable(path, str(exc).strip() or type(exc).__name__)
            _failed(feed, key, stamp, error.message, error.hint)


def _failed(feed: Feed, key: str, stamp: list[int], message: str, hint: str | None) -> None:
    feed.runtime.error(message, file=key, hint=hint)
    feed.runtime.files_seen({key: stamp})
