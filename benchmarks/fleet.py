"""Fleet scoring on a Dask cluster: throughput, scaling, engine overhead, and a projection.

Writes ``--files`` synthetic 10-s recordings and scores them all with the
full-size model into part files (``score_fleet``), four ways on the same
files, each after a warm-up on a chunk per worker (model loaded, workers started):

- here, 1 process with 2 torch threads: the library's own throughput, the
  limit the engine wraps (``aegan score`` as a loop);
- here, 1 process with 1 thread: one file's scoring on one core;
- a LocalCluster of 1 worker x 1 thread: the same work through Dask; the
  difference per file is the engine's overhead (goal: at most 5% of a file);
- a LocalCluster of 2 workers x 1 thread each: its throughput against 1
  process with 2 threads is the scaling efficiency (goal: at least 0.9).

Then a projection from the measured rate of one 1-thread worker: files and
hours of audio per hour per worker, and the workers needed to keep up with
14,400 hours of audio a day. Ratios, not times, are what compare across a
busy machine.

    python benchmarks/fleet.py [--files 32] [--chunk-files 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from long_file import full_size_detector, write_recording

from aegan.fleet.batch import FleetRun, score_fleet
from aegan.fleet.engine import Engine, connect
from aegan.fleet.inputs import Entry

AUDIO_HOURS_PER_DAY = 14_400.0
CLIP_SECONDS = 10.0


def timed(
    run: Callable[[list[Entry], Path], FleetRun], entries: list[Entry], warm: int, folder: Path,
    name: str,
) -> FleetRun:  # fmt: skip
    """A warm-up run of ``warm`` files (models loaded, workers started), then the measured one."""
    run(entries[:warm], folder / f"{name}-warm")
    result = run(entries, folder / name)
    print(f"  {name}: {result.seconds:.1f} s", file=sys.stderr, flush=True)
    return result


def here(entries: list[Entry], chunk: int, threads: int, folder: Path) -> FleetRun:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return timed(
            lambda files, out: score_fleet(files, out, files_per_chunk=chunk),
            entries, chunk, folder, f"here{threads}",
        )  # fmt: skip
    finally:
        torch.set_num_threads(before)


def on_cluster(entries: list[Entry], chunk: int, workers: int, folder: Path) -> FleetRun:
    engine = Engine(workers=workers, threads=1)
    with connect(engine) as client:
        return timed(
            lambda files, out: score_fleet(files, out, files_per_chunk=chunk, client=client),
            entries, chunk * workers, folder, f"cluster{workers}",
        )  # fmt: skip


def projection(run: FleetRun, label: str) -> str:
    files_per_hour = run.files_per_hour
    audio_per_hour = run.real_time_factor  # hours of audio per hour of one worker
    needed = AUDIO_HOURS_PER_DAY / (24 * audio_per_hour)
    return (
        f"| {label} | {files_per_hour:,.0f} | {audio_per_hour:.2f} | "
        f"{3600 / audio_per_hour:.0f} | {needed:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--chunk-files", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        bundle = full_size_detector().save(folder / "bench.safetensors")
        entries = [
            Entry(write_recording(folder / f"clip{i:04d}.wav", CLIP_SECONDS / 60), str(bundle))
            for i in range(args.files)
        ]
        limit2 = here(entries, args.chunk_files, 2, folder)
        single = here(entries, args.chunk_files, 1, folder)
        one = on_cluster(entries, args.chunk_files, 1, folder)
        two = on_cluster(entries, args.chunk_files, 2, folder)
    n = args.files
    per_file = single.seconds / n
    overhead = (one.seconds - single.seconds) / n
    print(f"{n} files of {CLIP_SECONDS:g} s, full-size model, {args.chunk_files} files per chunk")
    print("| run | seconds | files/hour | x real time |")
    print("|---|---:|---:|---:|")
    for label, run in (("here, 1 process x 2 threads (limit)", limit2),
                       ("here, 1 process x 1 thread", single),
                       ("LocalCluster 1 worker x 1 thread", one),
                       ("LocalCluster 2 workers x 1 thread", two)):  # fmt: skip
        print(f"| {label} | {run.seconds:.2f} | {run.files_per_hour:,.0f} | "
              f"{run.real_time_factor:.2f} |")  # fmt: skip
    efficiency = two.files_per_hour / limit2.files_per_hour
    linear = two.files_per_hour / (2 * one.files_per_hour)
    print(f"scaling efficiency, 2 workers x 1 thread / 1 process x 2 threads: {efficiency:.2f} "
          f"(goal >= 0.9); / twice 1 worker: {linear:.2f}")  # fmt: skip
    print(f"engine overhead per file: {1000 * overhead:.1f} ms = {overhead / per_file:.1%} of a "
          f"file's scoring ({1000 * per_file:.0f} ms on one core; goal <= 5%)")  # fmt: skip
    print(f"\nprojection for {AUDIO_HOURS_PER_DAY:,.0f} hours of audio a day:")
    print("| per worker | files/hour | audio hours/hour | s per audio hour | workers needed |")
    print("|---|---:|---:|---:|---:|")
    print(projection(one, "1 thread (measured)"))


if __name__ == "__main__":
    main()
