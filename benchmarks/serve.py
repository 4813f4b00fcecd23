"""Service throughput: concurrent clients posting 10-s clips to `aegan serve`, against the library.

Writes ``--files`` synthetic 10-s, 16 kHz machine clips and a full-size fan
bundle (untrained, calibrated on random figures: the same arithmetic as a
trained one), then:

1. the library scores all the files in this process, in one
   ``score_recordings`` call (the limit: the service wraps this very call);
2. `aegan serve` runs as a separate process on 127.0.0.1, and 1, 4 and 16
   concurrent clients (threads, one httpx connection each) post the same files
   to ``POST /v1/score``, sharing them out.

Prints files/s per client count, its fraction of the library's files/s
measured in the same run (the goal: >= 0.9 from 4 clients on), p50 and p99
latency per request, and the peak RSS of the server process (VmHWM) and of
this one (ru_maxrss). On a shared machine, compare the fractions, not the
times. A reduced run for a busy machine: ``--files 8 --clients 1 4``.

    python benchmarks/serve.py [--files 32] [--clients 1 4 16] [--gpu cpu]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from long_file import RATE, full_size_detector

from aegan.detector.file_scoring import score_recordings
from aegan.synth.sound import synthesize_pcm16

START_SECONDS = 300


def write_clips(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        path = folder / f"clip-{i:03d}.wav"
        sf.write(str(path), synthesize_pcm16("fan", "00", 0, None, rng, 10 * RATE, RATE), RATE,
                 subtype="PCM_16")  # fmt: skip
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(bundle: Path, port: int, gpu: str, queue: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "aegan", "serve", "--model", str(bundle), "--port", str(port),
               "--gpu", gpu, "--queue", str(queue)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            sys.exit(f"the server did not start:\n{server.stderr.read().decode()}")
        time.sleep(0.2)
    server.terminate()
    sys.exit("the server did not get ready in time")


def post_all(url: str, files: list[Path], clients: int) -> tuple[float, list[float]]:
    """Wall seconds for all files, and each request's latency; files shared round-robin."""
    latencies: list[float] = []
    failures: list[str] = []
    bodies = [path.read_bytes() for path in files]

    def client(share: list[int]) -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            for index in share:
                began = time.perf_counter()
                answer = http.post("/v1/score", content=bodies[index],
                                   headers={"Content-Type": "audio/wav"})  # fmt: skip
                latencies.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")

    threads = [threading.Thread(target=client, args=(list(range(c, len(files), clients)),))
               for c in range(clients)]  # fmt: skip
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"{len(failures)} requests failed, the first: {failures[0]}")
    return time.perf_counter() - began, latencies


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--gpu", default="cpu", help="the server's and the library's device")
    args = parser.parse_args()
    detector = full_size_detector()
    if args.gpu != "cpu":
        detector.to(f"cuda:{args.gpu}")
    with tempfile.TemporaryDirectory() as tmp:
        files = write_clips(Path(tmp), args.files)
        bundle = detector.save(Path(tmp) / "bench-fan.safetensors")
        score_recordings(detector, files[:1])  # warm-up
        began = time.perf_counter()
        score_recordings(detector, files)
        library = args.files / (time.perf_counter() - began)
        print(f"serve: {args.files} clips of 10 s at 16 kHz, full-size model "
              f"({detector.reference_segments} segments per clip), device {args.gpu}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print(f"  library, one process, one call: {library:.2f} files/s")
        port = free_port()
        server = start_server(bundle, port, args.gpu, queue=max(args.clients) * 2)
        try:
            url = f"http://127.0.0.1:{port}"
            post_all(url, files[:2], 1)  # warm-up
            for clients in args.clients:
                seconds, latencies = post_all(url, files, clients)
                p50, p99 = np.percentile(latencies, [50, 99])
                rate = args.files / seconds
                print(f"  {clients:2d} clients: {rate:.2f} files/s = {rate / library:.2f}x the "
                      f"library; latency p50 {p50:.2f} s, p99 {p99:.2f} s")  # fmt: skip
            server_mb = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS: server {server_mb:.0f} MB (VmHWM), this process {own_mb:.0f} MB")


if __name__ == "__main__":
    main()
