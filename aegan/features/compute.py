"""Computing a clip list's log-mel features into one file (docs/method.md section 2).

Every clip's header is checked first, so bad input fails before any work and
writes nothing. Then worker threads each read a clip, compute its log-mel and
write it into its own columns of a memory-mapped array (soundfile, scipy's FFT,
numpy's matrix products and copies all release the GIL, so the threads run on
every core), while this thread checks the clips in order and reports progress:
memory use does not grow with the number of clips, and no torch is imported. The clips' temporaries are reused from the
heap (aegan/allocator.py) instead of being faulted in anew for every clip, and
the BLAS library computes each small mel product on the calling thread
(``one_blas_thread``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from aegan import paths
from aegan.allocator import reused_host_memory
from aegan.config.schema import Channel, FeatureConfig
from aegan.dcase.clips import Clip
from aegan.errors import DataError
from aegan.features.audio import AudioInfo, probe, read_audio, require_channel
from aegan.features.logmel import MelTransform, frame_count, one_blas_thread
from aegan.features.segments import require_one_segment
from aegan.progress import Progress, no_progress

_T = TypeVar("_T")
IN_FLIGHT_PER_WORKER = 4  # clips computed ahead of the writer: keeps workers busy, memory small


def worker_count() -> int:
    """Threads for reading and transforming: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_lengths(clips: Sequence[Clip], cfg: FeatureConfig) -> tuple[list[AudioInfo], np.ndarray]:
    """Each clip's header and frame count; refuse unreadable, too-short or too-few-channel files.

    Runs before any computing so that bad input fails fast and writes nothing. The
    headers are read by worker threads; the first bad file in list order is the one named.
    """
    with ThreadPoolExecutor(max_workers=worker_count()) as pool:
        infos = list(pool.map(lambda clip: probe(clip.path, cfg.sample_rate), clips))
    frames = np.array([frame_count(i.target_samples, cfg.hop_length) for i in infos], np.int64)
    for clip, info, n in zip(clips, infos, frames, strict=True):
        require_channel(info.channels, cfg.channel, str(clip.path))
        require_one_segment(int(n), cfg, str(clip.path), f"{info.seconds:.2f} s ")
    return infos, frames


def compute_features(
    clips: Sequence[Clip],
    cfg: FeatureConfig,
    target: Path,
    progress: Progress = no_progress,
    task: str = "features",
) -> tuple[np.ndarray, tuple[float, float]]:
    """Log-mel features of ``clips`` into the .npy file ``target``: (offsets, (max, min) in dB).

    The file appears only when complete, and never when a feature is not finite.
    """
    infos, frames = check_lengths(clips, cfg)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    transform = MelTransform(cfg)
    channel = cfg.channel
    db_max, db_min = -np.inf, np.inf
    with reused_host_memory(), one_blas_thread(), paths.atomic_path(target, suffix=".npy") as tmp:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(cfg.n_mels, int(offsets[-1]))
        )
        work = partial(_write_log_mel, clips, infos, offsets, transform, channel, out)
        for i, (hi, lo) in enumerate(in_order(work, len(clips))):
            if not (np.isfinite(hi) and np.isfinite(lo)):
                raise _non_finite(clips[i].path, cfg)
            db_max, db_min = max(db_max, hi), min(db_min, lo)
            progress(task, i + 1, len(clips))
        # Closing the map leaves its pages to the kernel's write-back, as every file aegan
        # writes: a forced sync here (msync) made the user wait 0.2 s per 1,000 clips.
        del out, work
    return offsets, (float(db_max), float(db_min))


def _write_log_mel(
    clips: Sequence[Clip],
    infos: Sequence[AudioInfo],
    offsets: np.ndarray,
    transform: MelTransform,
    channel: Channel,
    out: np.ndarray,
    i: int,
) -> tuple[float, float]:
    """Clip i's log-mel into its own columns of ``out`` (workers write side by side); its range."""
    mel = transform(read_audio(clips[i].path, transform.sample_rate, infos[i], channel))
    out[:, offsets[i] : offsets[i + 1]] = mel
    return float(mel.max()), float(mel.min())


def in_order(work: Callable[[int], _T], count: int) -> Iterator[_T]:
    """``work(0)``, ``work(1)``, ... computed by worker threads, yielded in order.

    At most a few clips per worker are ahead of the consumer, so memory stays
    bounded; an error in a worker surfaces at its clip.
    """
    workers = worker_count()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_T]] = deque()
        submitted = 0
        try:
            for _ in range(count):
                while submitted < count and len(pending) < workers * IN_FLIGHT_PER_WORKER:
                    pending.append(pool.submit(work, submitted))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _non_finite(first: Path, cfg: FeatureConfig) -> DataError:
    return DataError(
        f"The log-mel features computed from {first.name} onward are not finite (NaN or "
        "infinity); nothing was cached.",
        f"Check the feature settings (feat.*, e.g. feat.top_db={cfg.top_db}): each must be a "
        "positive, finite number.",
    )
