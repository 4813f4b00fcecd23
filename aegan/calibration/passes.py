"""The network passes of calibration: resumable, and no more of them than calibration needs.

Every training clip needs its critic embedding (one discriminator pass per
segment); only the threshold clips (aegan/calibration/threshold_clips.py) need all four
passes. The clips are worked through in chunks, each saved to the cache as it
is done, under a key of the weights, the scaling and the clips: an interrupted
run (Ctrl-C) resumes where it stopped, and a finished run removes its chunks.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aegan.allocator import reused_host_memory
from aegan.model.batches import SegmentArray, Transform
from aegan.model.inference import scoring_discriminator, scoring_generator
from aegan.model.nets import Discriminator, Generator, embedding_dim, segment_flops
from aegan.model.precision import Precision
from aegan.model.scores import clip_embeddings, critic_embeddings, score_clips, segment_outputs
from aegan.paths import atomic_path, cache_dir
from aegan.progress import Progress, no_progress
from aegan.score_names import SCORE_NAMES

CHUNK_CLIPS = 16
"""Clips per saved chunk: at most this much work (about 30 s of one CPU) is lost to Ctrl-C."""


PROBE_SEGMENTS = 16
"""Segments timed through each kind of pass to estimate a calibration's run time."""


@dataclass(frozen=True)
class PassResults:
    """What the passes give: every clip's embedding, and the threshold clips' 19 scores."""

    embeddings: np.ndarray  # (N, E) float32
    values: np.ndarray  # (N, 19) float64; NaN rows for clips outside the threshold subset


@dataclass(frozen=True)
class CalibrationEstimate:
    """How long calibration will take here, measured on a few segments before the long run."""

    seconds: float
    clips: int
    threshold_clips: int
    segments: int
    device: str
    flops: float  # of all the network passes

    def describe(self) -> str:
        """E.g. 'about 40 min on this CPU (7.6 TFLOP of network passes)', for the command line:
        the work lets a user judge another device by its FLOP rate."""
        where = "this CPU" if self.device == "cpu" else f"this {self.device.upper()} device"
        if self.seconds < 90:
            amount = f"{max(round(self.seconds / 5) * 5, 5):.0f} s"
        elif self.seconds < 5400:
            amount = f"{round(self.seconds / 60):.0f} min"
        else:
            amount = f"{self.seconds / 3600:.1f} h"
        return f"about {amount} on {where} ({self.flops / 1e12:.1f} TFLOP of network passes)"


def _weights_digest(*nets: torch.nn.Module) -> bytes:
    digest = hashlib.sha256()
    for net in nets:
        for key, tensor in net.state_dict().items():
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.digest()


def work_key(
    nets: tuple[Generator, Discriminator],
    clips: Sequence[SegmentArray],
    subset: np.ndarray,
    identity: str,
    settings: str,
) -> str:
    """Names one calibration's work: its weights, clips, threshold subset and settings.

    ``identity`` says where the clips come from (file names, frame counts,
    scaling); the shapes are hashed here as well.
    """
    digest = hashlib.sha256(_weights_digest(*nets))
    digest.update(identity.encode())
    digest.update(settings.encode())
    digest.update(np.asarray([tuple(c.shape) for c in clips], dtype=np.int64).tobytes())
    digest.update(np.asarray(subset, dtype=np.int64).tobytes())
    return digest.hexdigest()[:16]


def work_dir(key: str) -> Path:
    return cache_dir() / "calibration" / key


def _load_chunk(
    path: Path | None, keys: tuple[str, ...], rows: int
) -> dict[str, np.ndarray] | None:
    """A saved chunk, or None when absent, unreadable or not of this shape (then computed again)."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path) as data:
            saved = {key: data[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return saved if all(len(array) == rows for array in saved.values()) else None


def _save_chunk(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def _chunks(indices: np.ndarray) -> list[np.ndarray]:
    return [indices[i : i + CHUNK_CLIPS] for i in range(0, len(indices), CHUNK_CLIPS)]


def run_passes(
    generator: Generator,
    discriminator: Discriminator,
    clips: Sequence[SegmentArray],
    subset: np.ndarray,
    *,
    transform: Transform | None,
    batch_size: int,
    precision: Precision,
    folder: Path | None,
    progress: Progress = no_progress,
) -> PassResults:
    """All four passes over the ``subset`` clips, the critic's alone over the others.

    With a ``folder``, each finished chunk is saved there and a saved one is
    read back instead of computed: a resumed run gives the same numbers.
    """
    n = len(clips)
    embeddings = np.zeros((n, embedding_dim(discriminator.config)), dtype=np.float32)
    values = np.full((n, len(SCORE_NAMES)), np.nan)
    rest = np.setdiff1d(np.arange(n), subset)
    options = {"transform": transform, "batch_size": batch_size, "precision": precision}
    for kind, indices, task in (
        ("scored", np.asarray(subset, dtype=np.int64), "Scoring threshold clips"),
        ("embedded", rest, "Embedding training clips"),
    ):
        if len(indices) == 0:
            continue
        keys = ("embeddings", "values") if kind == "scored" else ("embeddings",)
        done = 0
        progress(task, 0, len(indices))
        for number, chunk in enumerate(_chunks(indices)):
            path = None if folder is None else folder / f"{kind}-{number:05d}.npz"
            saved = _load_chunk(path, keys, len(chunk))
            if saved is None:
                part = [clips[i] for i in chunk]
                if kind == "scored":
                    result = score_clips(generator, discriminator, part, None, **options)
                    saved = {"embeddings": result.embeddings, "values": result.values}
                else:
                    saved = {"embeddings": clip_embeddings(discriminator, part, **options)}
                if path is not None:
                    _save_chunk(path, **saved)
            embeddings[chunk] = saved["embeddings"]
            if kind == "scored":
                values[chunk] = saved["values"]
            done += len(chunk)
            progress(task, done, len(indices))
    return PassResults(embeddings, values)


def forget_work(folder: Path | None) -> None:
    """Remove a finished calibration's saved chunks."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _seconds_per_segment(run: Callable[[torch.Tensor], object], probe: torch.Tensor) -> float:
    """The best of two timed runs, after one that selects kernels and allocates (not throughput),
    with the heap reuse the real passes have: one short timing is at the mercy of a busy CPU."""
    best = float("inf")
    with reused_host_memory(probe.device):
        run(probe)
        for _ in range(2):
            started = time.perf_counter()
            run(probe)
            if probe.device.type == "cuda":
                torch.cuda.synchronize(probe.device)
            best = min(best, time.perf_counter() - started)
    return best / len(probe)


def estimate_calibration(
    generator: Generator,
    discriminator: Discriminator,
    clips: Sequence[SegmentArray],
    subset: np.ndarray,
    *,
    transform: Transform | None = None,
    precision: Precision = "fp32",
) -> CalibrationEstimate:
    """The run time of ``run_passes`` here, from timing a few segments of each kind of pass."""
    device = next(generator.parameters()).device
    first = np.array(clips[0][:PROBE_SEGMENTS])  # a copy: clips may be read-only views
    probe = torch.from_numpy(first).reshape(-1, 1, *first.shape[-2:]).to(device)
    probe = transform(probe) if transform is not None else probe

    fast_generator = scoring_generator(generator)
    fast_critic = scoring_discriminator(discriminator)

    def critic(x: torch.Tensor) -> object:
        return critic_embeddings(fast_critic, x, precision)

    def all_passes(x: torch.Tensor) -> object:
        return segment_outputs(fast_generator, fast_critic, x, precision)

    counts = np.array([len(c) for c in clips], dtype=np.int64)
    scored = int(counts[subset].sum())
    embedded = int(counts.sum()) - scored
    seconds = (
        _seconds_per_segment(all_passes, probe) * scored
        + _seconds_per_segment(critic, probe) * embedded
    )
    all_flops, critic_flops = segment_flops(generator, discriminator)
    flops = float(all_flops * scored + critic_flops * embedded)
    return CalibrationEstimate(
        seconds, len(clips), len(subset), int(counts.sum()), device.type, flops
    )
