"""Feature cache, scaling statistics and segmenting (docs/method.md section 2).

A ``FeatureSet`` holds the raw log-mel (dB) spectrograms of a list of clips as
one array of shape (n_mels, total_frames), the clips laid end to end, plus the
frame offset of each clip. Clips may differ in length. The array is computed
once, streamed to disk (never holding all audio in memory), and read back
memory-mapped. Its cache key hashes the feature settings and every input file's
path, size and modification time, so a changed file or setting recomputes.

Scaling to [-1, 1] uses the global max and min of the *training* features and
is applied where the features are used (``Scaler``), so one cache serves every
training set a model may use.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from aegan import paths
from aegan.config.schema import FeatureConfig
from aegan.dcase.clips import Clip
from aegan.errors import DataError
from aegan.features.audio import probe, read_audio
from aegan.features.logmel import LogMel, frame_count
from aegan.features.segments import Scaler, require_one_segment, segment_view
from aegan.progress import Progress, no_progress

CACHE_VERSION = 1
BATCH_CLIPS = 16  # clips per log-mel batch: large enough to amortise, small enough to stream


class FeatureSet:
    """Raw log-mel features of a list of clips, laid end to end along time."""

    def __init__(
        self,
        clips: Sequence[Clip],
        data: np.ndarray,
        offsets: np.ndarray,
        path: Path | None = None,
        db_range: tuple[float, float] | None = None,
    ) -> None:
        self.clips = list(clips)
        self.data = data  # (n_mels, total_frames) float32
        self.offsets = offsets  # (n_clips + 1,) int64
        self.path = path
        # (max, min) in dB, known from the cache so that scaling needs no pass over the data
        self.db_range = db_range or (float(data.max()), float(data.min()))

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def frames(self) -> np.ndarray:
        """Frames per clip."""
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def max(self) -> float:
        return self.db_range[0]

    def min(self) -> float:
        return self.db_range[1]

    def spectrogram(self, index: int) -> np.ndarray:
        """One clip's (n_mels, frames) spectrogram, as a view."""
        return self.data[:, self.offsets[index] : self.offsets[index + 1]]

    def segments(self, index: int, frames: int, hop: int = 1) -> np.ndarray:
        """One clip's segments (S, n_mels, frames) as a strided view (no copy)."""
        return segment_view(self.spectrogram(index), frames, hop)

    def all_segments(self, frames: int, hop: int = 1) -> list[np.ndarray]:
        return [self.segments(i, frames, hop) for i in range(len(self))]

    def segment_starts(self, frames: int, hop: int = 1) -> np.ndarray:
        """Global start frame of every segment of every clip (for training batches)."""
        starts = [
            self.offsets[i] + np.arange(0, n - frames + 1, hop) for i, n in enumerate(self.frames)
        ]
        return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)


def combined_scaler(sets: Sequence[FeatureSet]) -> Scaler:
    """Global max and min over all clips of all given (training) sets."""
    return Scaler(max=max(s.max() for s in sets), min=min(s.min() for s in sets))


# ---------------------------------------------------------------- cache


def cache_key(clips: Sequence[Clip], cfg: FeatureConfig) -> str:
    """Hash of the feature settings and each input file's path, size and mtime."""
    digest = hashlib.sha256()
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("segment_frames", "segment_hop")}
    digest.update(json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True).encode())
    for clip in clips:
        try:
            stat = clip.path.stat()
        except OSError as exc:
            raise DataError(f"Cannot read {clip.path}: {exc.strerror}.") from None
        digest.update(f"{clip.path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def cache_stem(clips: Sequence[Clip], name: str) -> str:
    first = clips[0]
    return f"{first.year}/{first.machine}/{name}"


def _cache_files(stem: str, key: str) -> tuple[Path, Path]:
    base = paths.features_dir() / f"{stem}-{key}"
    return base.with_suffix(".npy"), base.with_suffix(".json")


def load_cached(
    clips: Sequence[Clip], cfg: FeatureConfig, stem: str, key: str
) -> FeatureSet | None:
    """The cached features of exactly these clips and settings (``key``), or None."""
    npy, meta_path = _cache_files(stem, key)
    if not (npy.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        data = np.load(npy, mmap_mode="c")
    except (OSError, ValueError):
        return None
    offsets = np.asarray(meta["offsets"], dtype=np.int64)
    if meta.get("key") != key or data.shape != (cfg.n_mels, int(offsets[-1])):
        return None
    return FeatureSet(clips, data, offsets, npy, (float(meta["max"]), float(meta["min"])))


def _remove_stale(stem: str, keep_key: str) -> None:
    folder = (paths.features_dir() / stem).parent
    prefix = Path(stem).name + "-"
    for old in folder.glob(prefix + "*"):
        if old.is_file() and not old.name.startswith(prefix + keep_key):
            old.unlink(missing_ok=True)


def check_lengths(clips: Sequence[Clip], cfg: FeatureConfig) -> np.ndarray:
    """Frames of each clip from the headers alone; refuse unreadable or too-short files.

    Runs before any computing so that bad input fails fast and writes nothing.
    """
    frames = np.empty(len(clips), dtype=np.int64)
    for i, clip in enumerate(clips):
        info = probe(clip.path, cfg.sample_rate)
        frames[i] = frame_count(info.target_samples, cfg.hop_length)
        require_one_segment(int(frames[i]), cfg, str(clip.path), f"{info.seconds:.2f} s ")
    return frames


def compute_features(
    clips: Sequence[Clip],
    cfg: FeatureConfig,
    target: Path,
    progress: Progress = no_progress,
    task: str = "features",
) -> FeatureSet:
    """Compute the log-mel features of ``clips`` into the .npy file ``target``.

    Audio is read by a thread pool while torch computes the previous batch, and
    each batch goes straight to a memory-mapped file: memory use does not grow
    with the number of clips. The file appears only when complete, and never
    when a feature is not finite.
    """
    frames = check_lengths(clips, cfg)
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
    logmel = LogMel(cfg)
    batches = [
        range(i, min(i + BATCH_CLIPS, len(clips))) for i in range(0, len(clips), BATCH_CLIPS)
    ]
    with paths.atomic_path(target, suffix=".npy") as tmp:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(cfg.n_mels, int(offsets[-1]))
        )
        with ThreadPoolExecutor(max_workers=2) as pool:

            def read_batch(batch: range) -> list[np.ndarray]:
                return list(pool.map(lambda i: read_audio(clips[i].path, cfg.sample_rate), batch))

            pending = pool.submit(read_batch, batches[0])
            done, db_max, db_min = 0, -np.inf, np.inf
            for b, batch in enumerate(batches):
                waves = pending.result()
                if b + 1 < len(batches):
                    pending = pool.submit(read_batch, batches[b + 1])
                hi, lo = _write_batch(out, logmel, waves, [int(offsets[i]) for i in batch])
                if not (np.isfinite(hi) and np.isfinite(lo)):
                    raise _non_finite(clips[batch[0]].path, cfg)
                db_max, db_min = max(db_max, hi), min(db_min, lo)
                done += len(batch)
                progress(task, done, len(clips))
        out.flush()
        del out
    data = np.load(target, mmap_mode="c")
    return FeatureSet(clips, data, offsets, target, (float(db_max), float(db_min)))


def _non_finite(first: Path, cfg: FeatureConfig) -> DataError:
    return DataError(
        f"The log-mel features computed from {first.name} onward are not finite (NaN or "
        "infinity); nothing was cached.",
        f"Check the feature settings (feat.*, e.g. feat.top_db={cfg.top_db}): each must be a "
        "positive, finite number.",
    )


@torch.inference_mode()
def _write_batch(
    out: np.ndarray, logmel: LogMel, waves: list[np.ndarray], starts: list[int]
) -> tuple[float, float]:
    """Log-mel of a batch into ``out``; returns the batch's (max, min) in dB.

    Clips of equal length are stacked together, so no padding alters a clip.
    """
    by_length: dict[int, list[int]] = {}
    for j, wave in enumerate(waves):
        by_length.setdefault(len(wave), []).append(j)
    hi, lo = -np.inf, np.inf
    for members in by_length.values():
        mels = logmel(torch.from_numpy(np.stack([waves[j] for j in members]))).numpy()
        hi, lo = max(hi, float(mels.max())), min(lo, float(mels.min()))
        for j, mel in zip(members, mels, strict=True):
            out[:, starts[j] : starts[j] + mel.shape[1]] = mel
    return hi, lo


def load_or_compute(
    clips: Sequence[Clip],
    cfg: FeatureConfig,
    name: str,
    progress: Progress = no_progress,
) -> tuple[FeatureSet, bool]:
    """Features of ``clips`` from the cache, computing them if needed.

    Returns the set and whether it came from the cache. ``name`` identifies the
    set within its machine (e.g. ``dev_train``); older caches of the same name
    are removed once the new one is complete.
    """
    if not clips:
        raise DataError(f"No clips to compute features for ({name}).")
    key = cache_key(clips, cfg)  # stats every input file once
    stem = cache_stem(clips, name)
    cached = load_cached(clips, cfg, stem, key)
    if cached is not None:
        return cached, True
    npy, meta_path = _cache_files(stem, key)
    started = time.perf_counter()
    features = compute_features(clips, cfg, npy, progress, task=name)
    meta = {
        "key": key,
        "version": CACHE_VERSION,
        "settings": asdict(cfg),
        "files": [str(c.path) for c in clips],
        "offsets": features.offsets.tolist(),
        "max": features.max(),
        "min": features.min(),
        "seconds": time.perf_counter() - started,
    }
    try:
        paths.write_text_atomic(meta_path, json.dumps(meta))
    except BaseException:
        npy.unlink(missing_ok=True)
        raise
    _remove_stale(stem, key)
    return features, False


def cache_size(features: FeatureSet) -> int:
    """Bytes on disk of a cached set (array plus metadata)."""
    if features.path is None:
        return features.nbytes
    meta = features.path.with_suffix(".json")
    return os.path.getsize(features.path) + (os.path.getsize(meta) if meta.exists() else 0)
