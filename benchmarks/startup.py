"""Start-up: wall time of commands that find their work done, each in a fresh process.

Prints, best of N runs: the bare interpreter and `import numpy` (the floor any
aegan command pays), `import torch` (what a cached command must not pay),
`aegan --help`, a cached `aegan prepare` (10 clips) and `aegan models`; and
each command's floor as a fraction of its time.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


def wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    """Best wall seconds of ``runs`` fresh processes."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def write_tree(root: Path, clips: int = 10) -> None:
    rng = np.random.default_rng(0)
    folder = root / "dev_data/fan/train"
    folder.mkdir(parents=True)
    for i in range(clips):
        wave = 0.1 * rng.standard_normal(10 * RATE)
        sf.write(str(folder / f"section_00_source_train_normal_{i:04d}_a.wav"), wave, RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = [sys.executable]
    aegan = [*python, "-m", "aegan"]
    with tempfile.TemporaryDirectory() as tmp:
        # as an installed aegan runs: compiled modules cached (outside the source tree here)
        env = {**os.environ, "AEGAN_HOME": str(Path(tmp) / "home")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        write_tree(Path(tmp) / "data")
        prepare = [*aegan, "prepare", "fan", "--year", "22", "--train-set", "dev"]
        prepare += ["--data-dir", str(Path(tmp) / "data")]
        subprocess.run(prepare, env=env, check=True, capture_output=True)  # fill the caches
        subprocess.run([*aegan, "models"], env=env, check=True, capture_output=True)
        floor = wall([*python, "-c", "import numpy"], env, args.runs)
        rows = {
            "python -c pass": wall([*python, "-c", "pass"], env, args.runs),
            "python -c 'import numpy'": floor,
            "python -c 'import torch'": wall([*python, "-c", "import torch"], env, args.runs),
            "aegan --help": wall([*aegan, "--help"], env, args.runs),
            "aegan prepare (cached)": wall(prepare, env, args.runs),
            "aegan models": wall([*aegan, "models"], env, args.runs),
        }
    print(f"start-up, best of {args.runs} fresh processes (wall seconds)")
    for name, seconds in rows.items():
        share = f"  numpy floor = {floor / seconds:4.0%} of it" if name.startswith("aegan") else ""
        print(f"  {name:28s} {seconds:6.2f} s{share}")


if __name__ == "__main__":
    main()
