"""Feature cache, scaling statistics and segmenting (docs/method.md section 2).

A ``FeatureSet`` holds the raw log-mel (dB) spectrograms of a list of clips as
one array of shape (n_mels, total_frames), the clips laid end to end, plus the
frame offset of each clip. Clips may differ in length. The array is computed
once (``compute.py``), streamed to disk, and read back memory-mapped. An
entry's name holds a hash of the feature settings and one of every input
file's path, size and modification time, so a changed file or setting
recomputes. Entries of other settings are kept; the cache as a whole stays
under the user's size limit, least recently used first (``eviction.py``).
Reading a cached entry imports neither torch nor scipy: it is what a repeated
``aegan prepare`` does, and it answers at once.

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
from dataclasses import asdict
from pathlib import Path

import numpy as np

from aegan import paths
from aegan.config.schema import MIX, FeatureConfig
from aegan.config.settings import features_max_bytes
from aegan.dcase.clips import Clip
from aegan.errors import DataError
from aegan.features.compute import compute_features
from aegan.features.eviction import evict, mark_used, remove_entry
from aegan.features.segments import Scaler, segment_view
from aegan.progress import Progress, no_progress

CACHE_VERSION = 3  # 2: numpy log-mel with a float64-built filterbank (within 1e-4 dB of 1);
# 3: the dB as a scaled natural log (float32 rounding apart from 2)


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


def settings_key(cfg: FeatureConfig) -> str:
    """Hash of the feature settings that change the log-mel (not the segmenting).

    The channel is part of it; the mix, what every entry held before the setting
    existed, leaves the hash as it was, so those entries stay valid.
    """
    unused = ("segment_frames", "segment_hop") + (("channel",) if cfg.channel == MIX else ())
    settings = {k: v for k, v in asdict(cfg).items() if k not in unused}
    text = json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def files_key(clips: Sequence[Clip]) -> str:
    """Hash of each input file's path, size and modification time."""
    digest = hashlib.sha256()
    for clip in clips:
        try:
            stat = clip.path.stat()
        except OSError as exc:
            raise DataError(f"Cannot read {clip.path}: {exc.strerror}.") from None
        digest.update(f"{clip.path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:8]


def cache_key(clips: Sequence[Clip], cfg: FeatureConfig) -> str:
    """``SETTINGS-FILES``: the entry of exactly these clips and settings."""
    return f"{settings_key(cfg)}-{files_key(clips)}"


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
        offsets = np.asarray(meta["offsets"], dtype=np.int64)
        db_range = (float(meta["max"]), float(meta["min"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if meta.get("key") != key or data.shape != (cfg.n_mels, int(offsets[-1])):
        return None
    mark_used(meta_path)
    return FeatureSet(clips, data, offsets, npy, db_range)


def _remove_outdated(stem: str, key: str) -> None:
    """Remove this set's entries of the same settings but older files: nothing can use them.

    Entries of other settings stay (the size limit bounds them).
    """
    npy, _ = _cache_files(stem, key)
    same_settings = f"{Path(stem).name}-{key.split('-')[0]}-"
    for old in npy.parent.glob(same_settings + "*.npy"):
        if old != npy:
            remove_entry(old)  # not while another run writes it


def load_or_compute(
    clips: Sequence[Clip],
    cfg: FeatureConfig,
    name: str,
    progress: Progress = no_progress,
) -> tuple[FeatureSet, bool]:
    """Features of ``clips`` from the cache, computing them if needed.

    Returns the set and whether it came from the cache. ``name`` identifies the
    set within its machine (e.g. ``dev_train``). Computing holds the entry's
    inter-process lock: a second process computing the same entry waits, then
    reads what the first wrote. Leftovers of a killed run are swept first.
    """
    if not clips:
        raise DataError(f"No clips to compute features for ({name}).")
    key = cache_key(clips, cfg)  # stats every input file once
    stem = cache_stem(clips, name)
    cached = load_cached(clips, cfg, stem, key)
    if cached is not None:
        return cached, True
    npy, meta_path = _cache_files(stem, key)
    with paths.file_lock(
        npy, on_wait=lambda: progress(f"{name}: waiting for another aegan", 0, None)
    ):
        cached = load_cached(clips, cfg, stem, key)  # written meanwhile by the process we waited on
        if cached is not None:
            return cached, True
        paths.sweep_stale(npy.parent)
        features = _compute_entry(clips, cfg, npy, meta_path, key, progress, name)
        _remove_outdated(stem, key)
        evict(paths.features_dir(), features_max_bytes(), keep=npy)
    return features, False


def _compute_entry(
    clips: Sequence[Clip],
    cfg: FeatureConfig,
    npy: Path,
    meta_path: Path,
    key: str,
    progress: Progress,
    name: str,
) -> FeatureSet:
    """Compute and write one entry: the features file, then its metadata (which makes it valid)."""
    started = time.perf_counter()
    offsets, db_range = compute_features(clips, cfg, npy, progress, task=name)
    meta = {
        "key": key,
        "version": CACHE_VERSION,
        "settings": asdict(cfg),
        "files": [str(c.path) for c in clips],
        "offsets": offsets.tolist(),
        "max": db_range[0],
        "min": db_range[1],
        "seconds": time.perf_counter() - started,
    }
    try:
        paths.write_text_atomic(meta_path, json.dumps(meta))
    except BaseException:
        npy.unlink(missing_ok=True)
        raise
    return FeatureSet(clips, np.load(npy, mmap_mode="c"), offsets, npy, db_range)


def cache_size(features: FeatureSet) -> int:
    """Bytes on disk of a cached set (array plus metadata)."""
    if features.path is None:
        return features.nbytes
    meta = features.path.with_suffix(".json")
    return os.path.getsize(features.path) + (os.path.getsize(meta) if meta.exists() else 0)
