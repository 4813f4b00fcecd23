"""Scoring throughput: all 19 anomaly scores of 10-s clips with the full-size model.

Prints, per precision, segments/s, the network GFLOP/s (convolutions and
linear layers of the networks as defined, counted with forward hooks) and their fraction of this
machine's fp32 or bf16 matrix-product and convolution throughput, measured in
the same run just before and after (a busy machine slows everything alike).
Also the network passes per segment: one encoder pass on the input, one
decoder pass, one encoder pass on the reconstruction and one critic pass.
bf16 is skipped, with the reason, where the device only emulates it.

    python benchmarks/scoring.py [--clips 4] [--device cpu] [--batch-size 256]
                                 [--precision fp32,bf16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aegan.config import schema as config
from aegan.features.segments import Scaler, segment_view
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator, segment_flops
from aegan.model.precision import bf16_is_fast
from aegan.model.scores import score_clips

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(work, device: torch.device, repeats: int = 3) -> float:
    work()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        work()
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def peak_gflops(precision: str, device: torch.device) -> tuple[float, float]:
    """(matmul, conv) GFLOP/s: a 1024^3 product and a 64->128-channel 4x4 stride-2 convolution
    (the model's middle layer) on 64 maps of 32x32 in channels-last layout."""
    dtype = DTYPES[precision]
    a = torch.randn(1024, 1024, device=device, dtype=dtype)
    matmul = 2 * 1024**3 * 4 / best_seconds(lambda: [a @ a for _ in range(4)], device) / 1e9
    x = torch.randn(64, 64, 32, 32, device=device, dtype=dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(128, 64, 4, 4, device=device, dtype=dtype)
    w = w.contiguous(memory_format=torch.channels_last)
    flops = 2 * 64 * 128 * 16 * 16 * 64 * 16
    conv = flops / best_seconds(lambda: F.conv2d(x, w, stride=2, padding=1), device) / 1e9
    return matmul, conv


def count_samples(module: nn.Module, counter: dict[str, float], key: str) -> None:
    def hook(_module, inputs, _output):
        counter[key] += inputs[0].shape[0]

    module.register_forward_hook(hook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--precision", default="fp32,bf16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    cfg = config.load_config(20, "slider")  # full size: isize 128, ndf/ngf 32, nz 256, BN in G
    generator = Generator(cfg.net).to(device).eval()
    discriminator = Discriminator(cfg.net).to(device).eval()
    per_segment, _ = segment_flops(generator, discriminator)
    counter = {"encoder": 0.0, "decoder": 0.0, "discriminator": 0.0}
    count_samples(generator.Encoder, counter, "encoder")
    count_samples(generator.Decoder, counter, "decoder")
    count_samples(discriminator, counter, "discriminator")
    rng = np.random.default_rng(0)
    spectrograms = [rng.uniform(-80, 0, (128, 313)).astype(np.float32) for _ in range(args.clips)]
    clips = [segment_view(s, 128, 1) for s in spectrograms]
    segments = sum(len(c) for c in clips)
    detectors = EmbeddingDetectors(rng.standard_normal((64, 512)).astype(np.float32))
    scaler = Scaler(max=0.0, min=-80.0)
    print(f"scoring, full-size model (isize 128), {args.clips} 10-s clips of 186 segments, "
          f"device {device}, {torch.get_num_threads()} CPU threads, batch {args.batch_size}")  # fmt: skip
    for precision in args.precision.split(","):
        if precision == "bf16" and not bf16_is_fast(device.type):
            matmul = emulated_bf16_gflops(device)
            print(f"  bf16: skipped, {device.type} has no bf16 arithmetic "
                  f"(emulated bf16 matmul {matmul:.2f} GFLOP/s)")  # fmt: skip
            continue

        def run(part=clips, precision=precision):
            return score_clips(generator, discriminator, part, detectors, transform=scaler,
                               batch_size=args.batch_size, precision=precision)  # fmt: skip

        run(clips[:1])
        seconds, peaks = float("inf"), [peak_gflops(precision, device)]
        for _ in range(args.repeats):  # interleaved, best of each: a shared machine's speed drifts
            for key in counter:
                counter[key] = 0.0
            synchronize(device)
            started = time.perf_counter()
            run()
            synchronize(device)
            seconds = min(seconds, time.perf_counter() - started)
            peaks.append(peak_gflops(precision, device))
        matmul, conv = max(peak[0] for peak in peaks), max(peak[1] for peak in peaks)
        gflops = per_segment * segments / seconds / 1e9
        print(f"  {precision}: {segments / seconds:.1f} segments/s, {gflops:.1f} GFLOP/s "
              f"({per_segment / 1e9:.2f} GFLOP per segment) = "
              f"{gflops / matmul:.0%} of {precision} matmul ({matmul:.0f} GFLOP/s), "
              f"{gflops / conv:.0%} of {precision} conv ({conv:.0f} GFLOP/s) measured in this run")  # fmt: skip
    print(f"  passes per segment: encoder {counter['encoder'] / segments:g}, decoder "
          f"{counter['decoder'] / segments:g}, discriminator {counter['discriminator'] / segments:g}")  # fmt: skip


def emulated_bf16_gflops(device: torch.device) -> float:
    """An emulated bf16 product is slow: time a small one only."""
    a = torch.randn(128, 128, device=device, dtype=torch.bfloat16)
    return 2 * 128**3 / best_seconds(lambda: a @ a, device) / 1e9


if __name__ == "__main__":
    main()
