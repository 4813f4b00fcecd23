"""Feature throughput: 10-s WAV clips to cached log-mel features, end to end.

Prints clips/s and the peak resident memory for two data-set sizes, each run
in a fresh process: if features stream to disk, the peak grows by no more than
the feature array itself (which is memory-mapped, so its pages count as resident).

    python benchmarks/features.py [--clips 400] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def write_clips(folder: Path, n: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    train = folder / "dev_data/fan/train"
    train.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        wave = 0.2 * np.sin(2 * np.pi * (150 + i % 50) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(
            str(train / f"section_00_source_train_normal_{i:04d}.wav"),
            wave,
            16000,
            subtype="PCM_16",
        )


def measure(folder: Path, n: int) -> dict:
    """Run in a child process: compute features of the first n clips, report time and memory."""
    from aegan.config import schema as config
    from aegan.dcase import clips as dcase
    from aegan.features.cache import load_or_compute

    clips = dcase.discover(folder, 2022, "fan", "dev", "train")[:n]
    started = time.perf_counter()
    features, cached = load_or_compute(clips, config.FeatureConfig(), f"bench_{n}")
    seconds = time.perf_counter() - started
    assert not cached
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"clips": n, "seconds": seconds, "peak_rss": peak, "feature_bytes": features.nbytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), int(args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_clips(data, args.clips, args.seconds)
        env_home = {"AEGAN_HOME": str(Path(tmp) / "home")}
        import os

        results = []
        for n in (args.clips // 4, args.clips):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(data), str(n)],
                env={**os.environ, **env_home}, capture_output=True, text=True, check=True,
            )  # fmt: skip
            results.append(json.loads(out.stdout))
    print(f"log-mel features, {args.seconds:g}-s clips, wav -> cache (fresh process per run)")
    for r in results:
        print(
            f"  {r['clips']:5d} clips: {r['clips'] / r['seconds']:7.1f} clips/s"
            f"  peak RSS {r['peak_rss'] / 2**20:7.1f} MiB"
            f"  (features {r['feature_bytes'] / 2**20:6.1f} MiB)"
        )
    small, large = results
    growth = large["peak_rss"] - small["peak_rss"]
    array_growth = large["feature_bytes"] - small["feature_bytes"]
    print(
        f"  peak growth {growth / 2**20:.1f} MiB for {array_growth / 2**20:.1f} MiB more features"
    )


if __name__ == "__main__":
    main()
