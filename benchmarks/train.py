"""Training throughput of the full-size model (isize 128, batch 512): speed, memory, kernel time.

Runs the real training step (critic step with gradient penalty, generator
step with feature matching) on random features laid out as the training
data is (one scaled (frames, 128) tensor on the device, batches gathered by
index). On the CPU it runs the step twice, each in a fresh process: with the
C library's default allocation (large buffers mapped and unmapped per step)
and with ``reused_host_memory`` (aegan/allocator.py, what training
uses), and prints for each segments/s, user and system time, minor page
faults per step and peak RSS. It also prints the step's GFLOP (counted on a
small batch, scaled) against this machine's fp32 matmul peak measured in the
same run, and the activation memory saved for backward at this batch size.

    python benchmarks/train.py [--device cuda:0] [--batch-size 512] [--steps N]
                               [--precision bf16] [--compile] [--recipe 20/slider]

On the CPU a full-size step takes many seconds: the default there is 2 timed steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from aegan.allocator import reused_host_memory
from aegan.config.schema import Config, load_config
from aegan.model.nets import Discriminator, Generator
from aegan.training.batching import DeviceFeatures
from aegan.training.distributed import Rank
from aegan.training.wgan import SpeedSettings, Trainer

CLIPS, CLIP_FRAMES = 400, 313  # 400 ten-second clips: 74,400 segments
ALLOCATORS = ("system", "reused")
COUNTING_BATCH = 8  # FLOP and saved bytes are linear in the batch: counted on a small one


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_features(device: torch.device, n_mels: int) -> DeviceFeatures:
    """Features shaped like a training set, already scaled to [-1, 1]."""
    generator = torch.Generator().manual_seed(0)
    data = torch.rand((CLIPS * CLIP_FRAMES, n_mels), generator=generator) * 2 - 1
    offsets = np.arange(CLIPS + 1, dtype=np.int64) * CLIP_FRAMES
    return DeviceFeatures(data.to(device), offsets, n_mels, 1)


def config(args: argparse.Namespace, batch_size: int) -> Config:
    year, machine = args.recipe.split("/")
    overrides = [
        f"train.batch_size={batch_size}",
        f"train.precision={args.precision}",
        f"train.compile={args.compile}",
    ]
    return load_config(year, machine, overrides=overrides)


def new_trainer(cfg: Config, device: torch.device) -> Trainer:
    speed, _ = SpeedSettings.resolve(cfg, device, world=1)
    torch.manual_seed(0)
    return Trainer(cfg, Generator(cfg.net), Discriminator(cfg.net), Rank(0, 1, device), speed)


class FlopCount(TorchDispatchMode):
    """FLOP of the matrix products and convolutions dispatched inside, double backward included.

    torch's FlopCounterMode also tracks modules, which autograd.grad inside a
    step does not allow; its per-operator formulas are used here directly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def step_costs(args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """(GFLOP, GB saved for backward) of one step at --batch-size, from a small batch."""
    cfg = config(args, COUNTING_BATCH)
    trainer = new_trainer(cfg, device)
    data = random_features(device, cfg.feat.n_mels)
    x = data.batch(torch.arange(COUNTING_BATCH, device=device))
    alpha = torch.rand((COUNTING_BATCH, 1, 1, 1), device=device)
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    counter = FlopCount()
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        trainer.step(x, alpha, generator_step=True)
    scale = args.batch_size / COUNTING_BATCH
    return counter.total * scale / 1e9, sum(saved.values()) * scale / 1e9


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a large fp32 matrix product: this machine's practical peak."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def measure(args: argparse.Namespace, device: torch.device, steps: int) -> dict:
    """Time ``steps`` steps after a warm-up, with the allocator ``args.allocator``."""
    cfg = config(args, args.batch_size)
    trainer = new_trainer(cfg, device)
    data = random_features(device, cfg.feat.n_mels)
    order = torch.randperm(data.n_segments, device=device)
    alpha = torch.rand((args.batch_size, 1, 1, 1), device=device)
    memory = reused_host_memory(device) if args.allocator == "reused" else contextlib.nullcontext()

    def batch(step: int) -> torch.Tensor:
        return data.batch(order[step * args.batch_size : (step + 1) * args.batch_size])

    feeding = 0.0
    with memory:
        trainer.step(batch(0), alpha, generator_step=True)  # warm-up: first-touch costs
        synchronize(device)
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for step in range(1, steps + 1):
            gathering = time.perf_counter()
            x = batch(step)
            synchronize(device)
            feeding += time.perf_counter() - gathering
            trainer.step(x, alpha, generator_step=True)
        synchronize(device)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "allocator": args.allocator,
        "segments_per_s": steps * args.batch_size / seconds,
        "seconds_per_step": seconds / steps,
        "feeding_share": feeding / seconds,
        "user_s": after.ru_utime - before.ru_utime,
        "system_s": after.ru_stime - before.ru_stime,
        "minor_faults_per_step": (after.ru_minflt - before.ru_minflt) / steps,
        "peak_rss_gb": after.ru_maxrss * 1024 / 1e9,  # Linux reports KiB
    }


def run_child(allocator: str) -> dict:
    """One measurement in a fresh process, so that no allocator state carries over."""
    argv = [sys.executable, __file__, *sys.argv[1:], "--allocator", allocator]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def print_result(r: dict, gflop: float, peak: float) -> None:
    ratio = 100 * r["system_s"] / r["user_s"] if r["user_s"] else 0.0
    rate = gflop / r["seconds_per_step"]
    print(
        f"  {r['allocator']:>7} allocation: {r['segments_per_s']:7.1f} segments/s "
        f"({r['seconds_per_step']:.2f} s/step, {rate:.1f} GFLOP/s = {100 * rate / peak:.1f}% of peak), "
        f"user {r['user_s']:.1f} s, system {r['system_s']:.1f} s ({ratio:.1f}% of user), "
        f"{r['minor_faults_per_step']:,.0f} minor faults/step, peak RSS {r['peak_rss_gb']:.2f} GB, "
        f"data feeding {100 * r['feeding_share']:.2f}% of step time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20, CPU 2)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--recipe", default="20/slider", help="year/machine whose recipe to use")
    parser.add_argument("--allocator", choices=ALLOCATORS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (2 if device.type == "cpu" else 20)
    if args.allocator:  # a child: one measurement, as JSON
        print(json.dumps(measure(args, device, steps)))
        return
    cfg = config(args, args.batch_size)
    gflop, saved_gb = step_costs(args, device)
    peak = matmul_peak(device)
    allocators = ALLOCATORS if device.type == "cpu" else ("system",)
    results = [run_child(a) for a in allocators]
    print(
        f"{cfg.year} {cfg.machine} recipe (norm_g {cfg.net.norm_g}), isize {cfg.net.isize}, "
        f"batch {args.batch_size}, {args.precision}, device {device} "
        f"({torch.get_num_threads()} CPU threads), {steps} timed steps after 1 warm-up"
    )
    print(
        f"one step: {gflop:.0f} GFLOP; {saved_gb:.2f} GB of activations saved for backward; "
        f"fp32 matmul peak here {peak:.1f} GFLOP/s"
    )
    for result in results:
        print_result(result, gflop, peak)


if __name__ == "__main__":
    main()
