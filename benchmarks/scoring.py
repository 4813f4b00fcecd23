"""Scoring throughput: all 19 anomaly scores of 10-s clips with the full-size model.

Counts network passes with forward hooks to show the cost per segment: one
encoder pass on the input, one decoder pass, one encoder pass on the
reconstruction and one discriminator pass.

    python benchmarks/scoring.py [--clips 8] [--device cpu] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from aegan.config import schema as config
from aegan.features.segments import Scaler, segment_view
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.model.scores import score_clips


def count_samples(module: torch.nn.Module, counter: dict, key: str) -> None:
    def hook(_module, inputs, _output):
        counter[key] = counter.get(key, 0) + inputs[0].shape[0]

    module.register_forward_hook(hook)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    cfg = config.load_config(22, "fan")  # full size: isize 128, ndf/ngf 32, nz 256
    generator = Generator(cfg.net).to(args.device).eval()
    discriminator = Discriminator(cfg.net).to(args.device).eval()
    counter: dict[str, int] = {}
    count_samples(generator.Encoder, counter, "encoder")
    count_samples(generator.Decoder, counter, "decoder")
    count_samples(discriminator, counter, "discriminator")
    rng = np.random.default_rng(0)
    spectrograms = [rng.uniform(-80, 0, (128, 313)).astype(np.float32) for _ in range(args.clips)]
    clips = [segment_view(s, 128, 1) for s in spectrograms]
    detectors = EmbeddingDetectors(rng.standard_normal((64, 512)).astype(np.float32))
    scaler = Scaler(max=0.0, min=-80.0)
    score_clips(
        generator, discriminator, clips[:1], detectors, batch_size=args.batch_size, transform=scaler
    )
    counter.clear()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = score_clips(
        generator, discriminator, clips, detectors, batch_size=args.batch_size, transform=scaler
    )
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    segments = sum(len(c) for c in clips)
    print(
        f"scoring, full-size model (isize 128), 10-s clips (186 segments each), device {args.device}"
    )
    print(
        f"  {args.clips} clips, all {result.values.shape[1]} scores: {args.clips / seconds:.2f} clips/s "
        f"({segments / seconds:.0f} segments/s, {torch.get_num_threads()} CPU threads)"
    )
    print(
        f"  passes per segment: encoder {counter['encoder'] / segments:g}, decoder "
        f"{counter['decoder'] / segments:g}, discriminator {counter['discriminator'] / segments:g}"
    )


if __name__ == "__main__":
    main()
