"""Long recordings as timelines: time per hour of audio, linearity, bounded memory.

Writes a synthetic 16 kHz recording of each requested length (in blocks, so
writing it costs no memory), then scores it as a timeline with the full-size
model (10-second windows, 186 segments each). The "peak" is the same model
scoring windows already in memory (``score_spectrograms``), measured in the
same run: the timeline's fraction of it is what reading, resampling and
log-mel cost on top. Peak RSS: run under ``/usr/bin/time -v``; the script also
prints ``ru_maxrss`` at the end.

    /usr/bin/time -v python benchmarks/long_file.py --minutes 5 10
    /usr/bin/time -v python benchmarks/long_file.py --minutes 60
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from aegan.config import schema as config
from aegan.detector.detector import Detector
from aegan.detector.timeline import TIMELINE_BATCH_SIZE
from aegan.features.segments import Scaler
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.synth.sound import synthesize_pcm16

RATE = 16000


def full_size_detector() -> Detector:
    """An untrained full-size fan detector, calibrated on random embeddings and scores."""
    cfg = config.load_config(22, "fan")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    return Detector(
        cfg, Generator(cfg.net), Discriminator(cfg.net), Scaler(max=0.0, min=-80.0),
        EmbeddingDetectors(rng.standard_normal((64, 512)).astype(np.float32)),
        rng.gamma(2.0, 1.0, (64, 19)), np.zeros((128, 313), np.float32), name="bench",
    )  # fmt: skip


def write_recording(path: Path, minutes: float) -> Path:
    """A recording of synthetic 10-s machine clips, written one clip at a time."""
    with sf.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16") as out:
        for i in range(round(minutes * 6)):
            rng = np.random.default_rng(i)
            out.write(synthesize_pcm16("fan", "00", 0, None, rng, 10 * RATE, RATE))
    return path


def peak_segments_per_second(detector: Detector, recording: Path, windows: int = 4) -> float:
    """Segments per second of the networks alone, on windows already turned into spectrograms.

    Same network batch as a timeline, so the two differ only by reading and log-mel.
    """
    waves = [sf.read(str(recording), start=i * 10 * RATE, frames=10 * RATE, dtype="float32")[0]
             for i in range(windows)]  # fmt: skip
    spectrograms = detector.log_mel(waves)
    detector.score_spectrograms(spectrograms[:1], batch_size=TIMELINE_BATCH_SIZE)  # warm-up
    started = time.perf_counter()
    detector.score_spectrograms(spectrograms, batch_size=TIMELINE_BATCH_SIZE)
    return windows * detector.reference_segments / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 10.0], help="ascending")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the recordings")
    args = parser.parse_args()
    detector = full_size_detector()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        recordings = [write_recording(Path(tmp) / f"{m:g}min.wav", m) for m in args.minutes]
        windows = min(4, round(max(args.minutes) * 6))
        peak = peak_segments_per_second(detector, recordings[-1], windows)
        print(
            f"timeline, full-size model, 10-s windows ({detector.reference_segments} segments), "
            f"{torch.get_num_threads()} CPU threads; peak (networks alone): {peak:.1f} segments/s"
        )
        for minutes, recording in zip(args.minutes, recordings, strict=True):
            started = time.perf_counter()
            timeline = detector.timeline(recording)
            seconds = time.perf_counter() - started
            segments = len(timeline.windows) * detector.reference_segments
            print(
                f"  {minutes:g} min: {len(timeline.windows)} windows in {seconds:.1f} s = "
                f"{seconds / minutes * 60:.0f} s per hour of audio; {segments / seconds:.1f} "
                f"segments/s = {segments / seconds / peak:.0%} of peak"
            )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS (ru_maxrss): {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
