"""Training throughput of the full-size model (isize 128, batch 512) and the data-feeding share.

Runs the real training step (critic step with gradient penalty, generator
step with feature matching) on random features laid out as the training
data is (one scaled (frames, 128) tensor on the device, batches gathered by
index), and prints segments/s and the share of step time spent gathering
batches rather than in the networks.

    python benchmarks/train.py [--device cuda:0] [--batch-size 512] [--steps 20]
                               [--precision bf16] [--compile] [--recipe 22/gearbox]

On the CPU a full-size step takes many seconds: the default there is 2 timed steps.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from aegan.config.schema import load_config
from aegan.model.nets import Discriminator, Generator
from aegan.training.batching import DeviceFeatures
from aegan.training.distributed import Rank
from aegan.training.wgan import SpeedSettings, Trainer

CLIPS, CLIP_FRAMES = 400, 313  # 400 ten-second clips: 74,400 segments


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_features(device: torch.device, n_mels: int) -> DeviceFeatures:
    """Features shaped like a training set, already scaled to [-1, 1]."""
    generator = torch.Generator().manual_seed(0)
    data = torch.rand((CLIPS * CLIP_FRAMES, n_mels), generator=generator) * 2 - 1
    offsets = np.arange(CLIPS + 1, dtype=np.int64) * CLIP_FRAMES
    return DeviceFeatures(data.to(device), offsets, n_mels, 1)


def timed(device: torch.device, work) -> tuple[float, object]:
    synchronize(device)
    started = time.perf_counter()
    result = work()
    synchronize(device)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20, CPU 2)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--recipe", default="22/gearbox", help="year/machine whose recipe to use")
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (2 if device.type == "cpu" else 20)
    year, machine = args.recipe.split("/")
    cfg = load_config(
        year,
        machine,
        overrides=[
            f"train.batch_size={args.batch_size}",
            f"train.precision={args.precision}",
            f"train.compile={args.compile}",
        ],
    )
    speed, notes = SpeedSettings.resolve(cfg, device, world=1)
    for note in notes:
        print(f"note: {note}")
    torch.manual_seed(0)
    trainer = Trainer(cfg, Generator(cfg.net), Discriminator(cfg.net), Rank(0, 1, device), speed)
    data = random_features(device, cfg.feat.n_mels)
    order = torch.randperm(data.n_segments, device=device)
    alpha = torch.rand((args.batch_size, 1, 1, 1), device=device)

    def indices(step: int) -> torch.Tensor:
        start = (step * args.batch_size) % (data.n_segments - args.batch_size)
        return order[start : start + args.batch_size]

    warmup = 1 if device.type == "cpu" else 3
    for step in range(warmup):  # allocator, cuDNN autotuning, compilation
        trainer.step(data.batch(indices(step)), alpha, generator_step=True)
    feeding = networks = 0.0
    for step in range(warmup, warmup + steps):
        seconds, batch = timed(device, lambda s=step: data.batch(indices(s)))
        feeding += seconds
        seconds, _ = timed(device, lambda b=batch: trainer.step(b, alpha, generator_step=True))
        networks += seconds
    total = feeding + networks
    print(
        f"{cfg.year} {cfg.machine} recipe (norm_g {cfg.net.norm_g}), isize {cfg.net.isize}, "
        f"batch {args.batch_size}, {args.precision}{', compiled' if speed.compile else ''}, "
        f"device {device} ({torch.get_num_threads()} CPU threads)"
    )
    print(f"steps timed: {steps}, {total / steps:.3f} s/step")
    print(f"training: {steps * args.batch_size / total:,.1f} segments/s")
    print(
        f"data feeding: {1000 * feeding / steps:.2f} ms/step = {100 * feeding / total:.2f}% of step "
        f"time ({100 * networks / total:.2f}% in the networks and optimisers)"
    )


if __name__ == "__main__":
    main()
