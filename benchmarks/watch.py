"""`aegan watch` at full size: real-time sources held, the loop's cost, and alert latency.

The "limit" is the library's own scoring throughput, measured in the same run:
``Detector.timeline`` on the same recording (read, log-mel, networks). The
monitor reads the same audio as a WAV stream, so its throughput as a fraction
of the library's is what the loop costs (goal: at least 0.9x). Sources held =
seconds of audio scored per second (10-s windows, no overlap). Latency: audio
pushed at real-time pace; the time from a window's last sample to its
``window`` event, against the time the library takes to score one window
(goal: at most one scoring batch), each window pushed at real-time pace
once the previous one's event came. bf16 is measured where the CPU (or GPU)
computes in it natively, and reported as skipped otherwise.

    python benchmarks/watch.py --minutes 2
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf
import torch

from aegan.model.precision import bf16_is_fast
from aegan.monitor.events import WindowScored
from aegan.monitor.monitor import Monitor
from aegan.monitor.spec import PcmFormat, Sinks, SourceSpec

sys.path.insert(0, str(Path(__file__).parent))
from long_file import RATE, full_size_detector, write_recording


def library_throughput(detector, recording: Path) -> tuple[float, list[float]]:
    """Audio seconds per second of ``Detector.timeline`` on the recording, and its scores."""
    started = time.perf_counter()
    timeline = detector.timeline(recording)
    seconds = time.perf_counter() - started
    return len(timeline.windows) * detector.clip_seconds / seconds, [
        w.score for w in timeline.windows
    ]


def loop_throughput(detector, recording: Path, folder: Path) -> tuple[float, list[float]]:
    """Audio seconds per second of the monitor scoring the recording as a WAV stream."""
    spec = SourceSpec("bench", "stream", "bench", "bench", stream=io.BytesIO(recording.read_bytes()),
                      sinks=Sinks(folder=folder / "loop"))  # fmt: skip
    monitor = Monitor([spec], detectors={"bench": detector}, heartbeat=0)
    scores: list[float] = []
    monitor.subscribe(lambda e: scores.append(e.score) if isinstance(e, WindowScored) else None)
    started = time.perf_counter()
    monitor.run()
    seconds = time.perf_counter() - started
    return len(scores) * detector.clip_seconds / seconds, scores


def latency(detector, recording: Path, folder: Path, windows: int) -> list[float]:
    """Seconds from a window's last sample to its event, for a source that keeps up.

    Each window's audio is pushed at real-time pace in quarter-second chunks;
    the next window's audio follows once the event came (so a machine slower
    than real time measures its scoring, not its queue).
    """
    spec = SourceSpec("live", "push", "bench", "bench", pcm=PcmFormat("f32le", RATE, 1),
                      sinks=Sinks(folder=folder / "live"))  # fmt: skip
    monitor = Monitor([spec], detectors={"bench": detector}, heartbeat=0)
    scored = threading.Semaphore(0)
    monitor.subscribe(lambda e: scored.release() if isinstance(e, WindowScored) else None)
    length = round(detector.clip_seconds * RATE)
    samples = sf.read(str(recording), dtype="float32")[0][: windows * length]
    chunk = RATE // 4
    delays = []
    monitor.start()
    try:
        for first in range(0, samples.size, length):
            t0 = time.monotonic()
            for begin in range(first, first + length, chunk):
                time.sleep(max(0.0, t0 + (begin - first) / RATE - time.monotonic()))
                monitor.push("live", samples[begin : begin + chunk])
            last_sample = time.monotonic()
            scored.acquire(timeout=600)
            delays.append(time.monotonic() - last_sample)
    finally:
        monitor.stop()
    return delays


def one_window_seconds(detector, recording: Path) -> float:
    """The library's time to score one window (a batch of one), the latency's yardstick."""
    wave = sf.read(str(recording), frames=round(detector.clip_seconds * RATE), dtype="float32")[0]
    started = time.perf_counter()
    detector.score(wave)
    return time.perf_counter() - started


def measure(detector, recording: Path, folder: Path, windows: int, label: str, rounds: int) -> None:
    """Library and loop throughput, interleaved ``rounds`` times (the machine's speed drifts)."""
    library_throughput(detector, recording)  # warm-up: every batch shape of the measured runs
    ratios, loops, identical = [], [], True
    for _ in range(rounds):
        library, expected = library_throughput(detector, recording)
        loop, scores = loop_throughput(detector, recording, folder)
        identical &= scores == expected
        ratios.append(loop / library)
        loops.append(loop)
        print(f"{label}: library (Detector.timeline) {library:.2f} s of audio per s; aegan watch "
              f"loop {loop:.2f} s/s = {loop / library:.2f}x of the library")  # fmt: skip
    print(f"  {label}: loop/library median {statistics.median(ratios):.2f}x (goal >= 0.9x); "
          f"scores identical to the timeline's: {identical}")  # fmt: skip
    print(f"  real-time sources held (10-s windows, no overlap): {statistics.median(loops):.2f}")
    yardstick = statistics.median(one_window_seconds(detector, recording) for _ in range(2))
    delays = latency(detector, recording, folder, windows)
    print(
        f"  latency, last sample to event: median {statistics.median(delays):.2f} s, max "
        f"{max(delays):.2f} s over {len(delays)} windows; one window's scoring takes "
        f"{yardstick:.2f} s: max latency = {max(delays) / yardstick:.2f} scoring batches"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=2.0, help="recording scored for throughput"
    )
    parser.add_argument(
        "--latency-windows", type=int, default=3, help="windows pushed in real time"
    )
    parser.add_argument("--rounds", type=int, default=2, help="library/loop runs, interleaved")
    args = parser.parse_args()
    detector = full_size_detector()
    print(
        f"full-size model, {detector.clip_seconds:g}-s windows, {torch.get_num_threads()} CPU threads"
    )
    with tempfile.TemporaryDirectory() as tmp:
        recording = write_recording(Path(tmp) / "rec.wav", args.minutes)
        measure(detector, recording, Path(tmp), args.latency_windows, "fp32", args.rounds)
        if bf16_is_fast("cpu"):
            detector.precision = "bf16"
            measure(detector, recording, Path(tmp), args.latency_windows, "bf16", args.rounds)
        else:
            print("bf16: skipped, this CPU has no bf16 arithmetic (AVX512-BF16 or AMX)")


if __name__ == "__main__":
    main()
