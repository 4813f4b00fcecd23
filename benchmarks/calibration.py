"""Calibration cost and the threshold shift from a threshold subset.

Writes a synthetic DCASE 2020 slider training set of 10-second clips (7
machine IDs, the recipe's dev+eval training data), saves an original-format
checkpoint with random full-size weights, prepares the features (not timed)
and times ``import_checkpoint``: with the default threshold subset, and with
``--compare`` also with every clip scored by all four passes (the work
calibration did before). The comparison shows that the clip scores are the
same and how far each gamma threshold moves when fitted to subsets of
several sizes instead of all clips, in units of the training scores' spread.
The machine's fp32 matmul throughput is measured in the same run, before and
after, since a busy machine slows everything alike.

    python benchmarks/calibration.py [--per-id 11] [--compare] [--sizes 8,16,24,32,48]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aegan.calibration.calibrate import import_checkpoint
from aegan.calibration.threshold_clips import DEFAULT_THRESHOLD_CLIPS, threshold_subset
from aegan.config.schema import load_config
from aegan.features.prepare import prepare_machine, training_sets
from aegan.model.nets import Discriminator, Generator
from aegan.model.threshold import gamma_threshold
from aegan.score_names import G_SCORE_NAMES, score_index
from aegan.synth.dataset import SynthSpec, write_dataset


def matmul_gflops(n: int = 1024, repeats: int = 8) -> float:
    """This machine's fp32 matrix-product throughput now (best of three)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 * repeats / best / 1e9


def timed_import(pth: Path, cfg, root: Path, name: str, threshold_clips: int | None):
    heard = []
    started = time.perf_counter()
    detector = import_checkpoint(
        pth, cfg, root, name, threshold_clips=threshold_clips, announce=heard.append
    )
    return time.perf_counter() - started, detector, heard[0]


def threshold_shifts(train_scores: np.ndarray, clips, sizes: list[int], quantile: float) -> None:
    """How far each G threshold moves when fitted to a subset, in training-score spreads."""
    print(
        "  threshold shift vs all clips, |t(subset) - t(all)| / std(training scores), 15 G scores:"
    )
    for size in sizes:
        chosen = threshold_subset(clips, size)
        shifts = []
        for name in G_SCORE_NAMES:
            column = train_scores[:, score_index(name)]
            spread = float(np.std(column))
            full = gamma_threshold(column, quantile)
            part = gamma_threshold(column[chosen], quantile)
            shifts.append(abs(part - full) / spread if spread > 0 else 0.0)
        print(
            f"    {len(chosen):3d} clips: median {np.median(shifts):.3f}, "
            f"max {np.max(shifts):.3f} ({G_SCORE_NAMES[int(np.argmax(shifts))]})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-id", type=int, default=11, help="training clips per machine ID")
    parser.add_argument("--compare", action="store_true", help="also calibrate on all clips")
    parser.add_argument("--sizes", default="8,16,24,32,48")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["AEGAN_HOME"] = home
        root = Path(home) / "dcase2020"
        write_dataset(root, SynthSpec(year=2020, machines=("slider",), train_source=args.per_id,
                                      seconds=args.seconds, test_normal=0, test_anomaly=0))  # fmt: skip
        cfg = load_config(2020, "slider")  # the published recipe, full size
        torch.manual_seed(0)
        pth = Path(home) / "slider.pth"
        torch.save({"netG": Generator(cfg.net).state_dict(),
                    "netD": Discriminator(cfg.net).state_dict(), "best_aver": 0.5}, pth)  # fmt: skip
        prepare_machine(cfg, root, include_test=False)  # features cached: not part of the timing
        peak_before = matmul_gflops()
        seconds, detector, estimate = timed_import(
            pth, cfg, root, "slider-default", DEFAULT_THRESHOLD_CLIPS
        )
        peak_after = matmul_gflops()
        n = len(detector.train_embeddings)
        print(f"calibration: slider 2020 recipe (full size), {n} synthetic {args.seconds:g}-s clips, "
              f"{torch.get_num_threads()} CPU threads, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"  fp32 matmul now: {peak_before:.0f} GFLOP/s before, {peak_after:.0f} after")
        print(
            f"  estimate announced before the run: {estimate.describe()} ({estimate.seconds:.0f} s)"
        )
        print(f"  default ({estimate.threshold_clips} threshold clips): {seconds:.1f} s")
        if not args.compare:
            return
        full_seconds, full, _ = timed_import(pth, cfg, root, "slider-all", None)
        print(f"  every clip, all four passes (the work before): {full_seconds:.1f} s "
              f"({full_seconds / seconds:.1f}x the default)")  # fmt: skip
        clips = _train_clips(cfg, root)
        chosen = threshold_subset(clips, DEFAULT_THRESHOLD_CLIPS)
        g_columns = [score_index(s) for s in G_SCORE_NAMES]
        a, b = (
            detector.train_scores[np.ix_(chosen, g_columns)],
            full.train_scores[np.ix_(chosen, g_columns)],
        )
        embedding_gap = np.abs(detector.train_embeddings - full.train_embeddings).max()
        print(f"  same clip scores: G scores of the threshold clips differ by at most "
              f"{np.max(np.abs(a - b) / np.abs(b)):.1e} (relative), embeddings by {embedding_gap:.1e}")  # fmt: skip
        sizes = [int(s) for s in args.sizes.split(",")]
        threshold_shifts(full.train_scores, clips, sizes, cfg.detect.threshold_quantile)


def _train_clips(cfg, root: Path) -> list:
    sets = training_sets(prepare_machine(cfg, root, include_test=False))
    return [clip for fs in sets for clip in fs.clips]


if __name__ == "__main__":
    main()
