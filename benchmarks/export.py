"""Scoring throughput of the exported graph in onnxruntime against PyTorch, full size, on the CPU.

Both run the per-segment network part of scoring (encoder, decoder, encoder,
critic: about 1.10 GFLOP per segment at isize 128) on the same random batches,
with the same number of threads, PyTorch as aegan scores (the networks' scoring
copies, with the heap reuse), and print segments/s and the fraction of this
machine's fp32 matmul peak measured in the same run. The runtimes take turns,
and the best batch of each counts: a shared machine's speed drifts.

    python -m benchmarks.export [--recipe 20/slider] [--batch-size 256] [--batches 3]
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

import numpy as np
import onnxruntime
import torch

from aegan.allocator import reused_host_memory
from aegan.config.schema import load_config
from aegan.export.onnx_export import onnx_graph
from aegan.model.inference import scoring_discriminator, scoring_generator
from aegan.model.nets import Discriminator, Generator, segment_flops
from aegan.model.scores import segment_outputs
from benchmarks.train import matmul_peak


def best_seconds(works: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each work's best time over ``repeats`` turns, the works taking turns."""
    for work in works.values():
        work()  # warm-up: first-call costs, oneDNN primitive creation
    best = dict.fromkeys(works, float("inf"))
    for _ in range(repeats):
        for name, work in works.items():
            started = time.perf_counter()
            work()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="20/slider", help="year/machine whose recipe to use")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=3, help="timed turns per runtime")
    args = parser.parse_args()
    year, machine = args.recipe.split("/")
    cfg = load_config(year, machine)
    torch.manual_seed(0)
    generator, discriminator = Generator(cfg.net).eval(), Discriminator(cfg.net).eval()
    isize = cfg.net.isize
    x = torch.rand((args.batch_size, 1, isize, isize)) * 2 - 1
    gflop_per_segment = segment_flops(generator, discriminator)[0] / 1e9
    threads = torch.get_num_threads()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        io.BytesIO(onnx_graph(generator, discriminator, digest="benchmark")).getvalue(),
        options,
        providers=["CPUExecutionProvider"],
    )
    batch = x.numpy()
    peak = matmul_peak(torch.device("cpu"))
    fast_generator, fast_discriminator = (
        scoring_generator(generator),
        scoring_discriminator(discriminator),
    )
    with reused_host_memory():
        seconds = best_seconds(
            {
                "PyTorch": lambda: segment_outputs(fast_generator, fast_discriminator, x),
                "onnxruntime": lambda: session.run(None, {"segments": batch}),
            },
            args.batches,
        )
    print(
        f"{cfg.year} {cfg.machine} networks, isize {isize}, batch {args.batch_size}, "
        f"{threads} threads, {gflop_per_segment:.2f} GFLOP/segment, "
        f"fp32 matmul peak here {peak:.1f} GFLOP/s"
    )
    for name, per_batch in seconds.items():
        rate = args.batch_size / per_batch
        flops = rate * gflop_per_segment
        print(
            f"  {name:>11}: {rate:6.1f} segments/s, {flops:5.1f} GFLOP/s = "
            f"{100 * flops / peak:.0f}% of peak"
        )
    ratio = seconds["PyTorch"] / seconds["onnxruntime"]
    print(f"onnxruntime / PyTorch speed: {ratio:.2f}x")
    np.testing.assert_allclose(  # the same numbers, as the parity test checks
        session.run(None, {"segments": batch[:4]})[0],
        segment_outputs(generator, discriminator, x[:4]).distances().numpy(),
        rtol=1e-4,
    )


if __name__ == "__main__":
    main()
