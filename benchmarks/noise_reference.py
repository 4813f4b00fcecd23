"""Does the far microphone help as a noise reference? A measurement on 2026-like data.

DCASE 2026 clips hold the near microphone in channel 0 and a far one in
channel 1. This experiment asks whether scoring improves when the far
channel's log-mel noise floor is subtracted from the near channel, against
channel 0 alone (what aegan does: ``feat.channel`` 0). It writes a synthetic
two-microphone DCASE 2026 data set (``aegan.synth``, ``far_noise_db``: ambient
noise and a nearby machine's hum of a colour and level that change per clip,
heard by both microphones alike), trains the same small model on each kind of
feature from the same seed, and prints the test AUC of both, per score chosen
beforehand and the official hmean:

- ``near``: channel 0's dB log-mel, exactly aegan's features;
- ``noise-aware``: channel 0's mel power minus the far channel's noise floor
  (per mel band, the ``--floor-percentile`` percentile over time of the far
  channel's mel power), floored at ``-top_db`` below the near power, in dB.

It also prints the throughput of both feature computations (clips/s) and the
noise-aware one's fraction of the plain one's, measured in the same run.

    python benchmarks/noise_reference.py [--noise-db -6] [--epochs 10] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from aegan.calibration.calibrate import calibrate
from aegan.config.schema import Config, load_config
from aegan.dcase.clips import Clip, discover
from aegan.dcase.metrics import evaluate
from aegan.features.cache import FeatureSet, combined_scaler
from aegan.features.logmel import MelTransform
from aegan.model.nets import Discriminator, Generator
from aegan.score_names import SCORE_NAMES
from aegan.synth.dataset import SynthSpec, write_dataset
from aegan.training.batching import DeviceFeatures
from aegan.training.wgan import Trainer

SMALL = (
    "net.isize=32", "feat.n_mels=32", "feat.segment_frames=32", "net.ndf=8", "net.ngf=8",
    "net.nz=32", "train.batch_size=64", "feat.segment_hop=4",
)  # fmt: skip
FIXED_SCORES = ("G_x_2_sum", "G_z_1_sum", "D_knn")
"""Scores reported, chosen before measuring (the demo's, the 2022 default, a D score)."""


def mel_power(transform: MelTransform, wave: np.ndarray) -> np.ndarray:
    frames = transform.frames(wave)
    out = np.empty((transform.n_mels, len(frames)), dtype=np.float32)
    return transform.mel(transform.squares(frames), out)


def near_features(transform: MelTransform, stereo: np.ndarray, _: float) -> np.ndarray:
    return transform.to_db(mel_power(transform, stereo[:, 0]))


def noise_aware_features(transform: MelTransform, stereo: np.ndarray, pct: float) -> np.ndarray:
    near = mel_power(transform, stereo[:, 0])
    floor = np.percentile(mel_power(transform, stereo[:, 1]), pct, axis=1, keepdims=True)
    cleaned = np.maximum(near - floor, near * np.float32(10 ** (-transform.top_db / 10)))
    return transform.to_db(cleaned.astype(np.float32))


def feature_set(clips: list[Clip], cfg: Config, kind, pct: float) -> tuple[FeatureSet, float]:
    """Features of ``clips`` by ``kind``, and the clips per second it computed them at."""
    transform = MelTransform(cfg.feat)
    waves = [sf.read(str(c.path), dtype="float32", always_2d=True)[0] for c in clips]
    kind(transform, waves[0], pct)  # first calls (imports, plans) are not the throughput
    started = time.perf_counter()
    specs = [kind(transform, wave, pct) for wave in waves]
    rate = len(clips) / (time.perf_counter() - started)
    offsets = np.concatenate([[0], np.cumsum([s.shape[1] for s in specs])]).astype(np.int64)
    return FeatureSet(clips, np.concatenate(specs, axis=1), offsets), rate


def train_and_score(cfg: Config, train: FeatureSet, test: FeatureSet, seed: int) -> dict:
    """Train from ``seed`` for cfg's epochs; the figures of every score on the test clips."""
    torch.manual_seed(seed)
    cfg.train.seed = seed
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    trainer = Trainer(cfg, generator, discriminator)
    scaler = combined_scaler([train])
    data = DeviceFeatures.upload(
        [train], scaler, torch.device("cpu"), cfg.feat.segment_frames, cfg.feat.segment_hop
    )
    for epoch in range(cfg.train.epochs):
        trainer.run_epoch(data, epoch)
    detector = calibrate(cfg, generator.eval(), discriminator.eval(), [train], resumable=False)
    specs = [test.spectrogram(i) for i in range(len(test))]
    scores = detector.score_spectrograms(specs)
    return evaluate(test.clips, scores.values, SCORE_NAMES).scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noise-db", type=float, default=-6.0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--floor-percentile", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--strength", type=float, default=1.0, help="anomaly strength")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(1)  # tiny networks: more threads only contend on a shared machine
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AEGAN_HOME"] = str(Path(tmp) / "home")
        root = Path(tmp) / "dcase2026"
        spec = SynthSpec(
            year=2026, machines=("fan",), seconds=args.seconds, train_source=24,
            train_target=8, test_normal=12, test_anomaly=12, subsets=("dev",), seed=0,
            anomaly_strength=args.strength, far_noise_db=args.noise_db,
        )  # fmt: skip
        write_dataset(root, spec)
        cfg = load_config(26, "fan", overrides=[*SMALL, f"train.epochs={args.epochs}"])
        train_clips = discover(root, 2026, "fan", "dev", "train")
        test_clips = discover(root, 2026, "fan", "dev", "test")
        print(
            f"2026-like data: {len(train_clips)} training and {len(test_clips)} test clips of "
            f"{args.seconds:g} s, surroundings {args.noise_db:+g} dB (+-6) from the machine at "
            f"the near microphone, anomaly strength {args.strength:g}; {args.epochs} epochs, "
            f"seeds {seeds}"
        )
        results, rates = {}, {}
        for name, kind in (("near", near_features), ("noise-aware", noise_aware_features)):
            train, rates[name] = feature_set(train_clips, cfg, kind, args.floor_percentile)
            test, _ = feature_set(test_clips, cfg, kind, args.floor_percentile)
            results[name] = [train_and_score(cfg, train, test, seed) for seed in seeds]
        print(f"{'score':<12} {'figure':<10} {'near (ch 0)':>12} {'noise-aware':>12}")
        for score in FIXED_SCORES:
            for figure in ("auc", "hmean"):
                cells = []
                for name in ("near", "noise-aware"):
                    values = [
                        r[score].official if figure == "hmean" else
                        float(np.mean([g.auc for g in r[score].groups]))
                        for r in results[name]
                    ]  # fmt: skip
                    cells.append(f"{100 * np.mean(values):.2f}")
                print(f"{score:<12} {figure:<10} {cells[0]:>12} {cells[1]:>12}")
        print(
            f"features: near {rates['near']:.0f} clips/s, noise-aware "
            f"{rates['noise-aware']:.0f} clips/s ({rates['noise-aware'] / rates['near']:.2f} "
            "of the near features' throughput)"
        )


if __name__ == "__main__":
    main()
