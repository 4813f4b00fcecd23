"""Feature throughput: `aegan prepare` end to end against a warm librosa loop, same run.

Writes N real-sized clips (10 s, 16 kHz, 16-bit: harmonics, noise and clicks),
then measures on the same files:

- aegan: `python -m aegan prepare` in a fresh process, start-up included;
- librosa: a warm loop in this process (soundfile read, then librosa's
  ``melspectrogram`` and ``power_to_db`` at the same settings);
- the ceiling: the FFT stage alone on frames already in memory, on every core
  (the one stage no log-mel can skip), as clips/s;
- the stages of one clip in aegan (header, read, resample, STFT, mel, dB, cache
  write), single-threaded, in ms per clip.

    python benchmarks/features.py [--clips 1000] [--seconds 10] [--profile-clips 100]
                                  [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from aegan.allocator import reused_host_memory
from aegan.config.schema import FeatureConfig
from aegan.features.audio import probe, read_audio
from aegan.features.compute import worker_count
from aegan.features.logmel import FRAME_CHUNK, MelTransform, hann_window

RATE = 16000


def write_clips(folder: Path, n: int, seconds: float) -> list[Path]:
    """DCASE 2022 dev training clips of a machine-like sound, different in each clip."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    train = folder / "dev_data/fan/train"
    train.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        base = 90 + i % 40
        wave = sum(
            0.15 / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6)) for k in (1, 2, 3)
        )
        wave = wave + 0.05 * rng.standard_normal(t.size)
        wave[rng.integers(0, t.size, 10)] += 0.5
        path = train / f"section_00_source_train_normal_{i:04d}_a_{i % 3}.wav"
        sf.write(str(path), np.clip(wave, -1, 1), RATE, subtype="PCM_16")
        files.append(path)
    return files


def run_aegan(data: Path, home: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (bytes) of `aegan prepare`, from process start to exit."""
    command = [sys.executable, "-m", "aegan", "prepare", "fan", "--year", "22"]
    command += ["--data-dir", str(data), "--train-set", "dev", "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "AEGAN_HOME": str(home)}, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"aegan prepare failed:\n{done.stderr}")
    assert not json.loads(done.stdout)["sets"][0]["cached"]
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def run_librosa(files: list[Path], cfg: FeatureConfig) -> float:
    """Seconds of the warm librosa loop over ``files``."""
    import librosa

    def one(path: Path) -> np.ndarray:
        wave, _ = sf.read(str(path), dtype="float32")
        mel = librosa.feature.melspectrogram(
            y=wave, sr=RATE, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels
        )
        return librosa.power_to_db(mel, ref=1.0, top_db=cfg.top_db)

    for path in files[:3]:
        one(path)  # warm: imports, filterbank cache
    started = time.perf_counter()
    for path in files:
        one(path)
    return time.perf_counter() - started


def fft_ceiling(files: list[Path], cfg: FeatureConfig, clips: int) -> float:
    """Clips/s of the FFT stage alone on windowed frames in memory, one thread per core."""
    import scipy.fft

    half = cfg.n_fft // 2
    wave = np.pad(read_audio(files[0], RATE), (half, half))
    frames = np.lib.stride_tricks.sliding_window_view(wave, cfg.n_fft)[:: cfg.hop_length]
    windowed = np.ascontiguousarray(frames * hann_window(cfg.n_fft))
    workers = worker_count()

    def one_clip(_: int) -> None:
        for start in range(0, len(windowed), FRAME_CHUNK):  # as aegan does: a clip in one piece
            scipy.fft.rfft(windowed[start : start + FRAME_CHUNK], axis=-1)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one_clip, range(workers)))
        started = time.perf_counter()
        list(pool.map(one_clip, range(clips)))
        return clips / (time.perf_counter() - started)


def stage_profile(files: list[Path], cfg: FeatureConfig, folder: Path) -> dict[str, float]:
    """Milliseconds per clip of each stage, one thread, over ``files``, with the heap reuse
    that feature computing has (aegan/allocator.py)."""
    with reused_host_memory():
        return _stage_times(files, cfg, folder)


def _stage_times(files: list[Path], cfg: FeatureConfig, folder: Path) -> dict[str, float]:
    transform = MelTransform(cfg)
    out = np.lib.format.open_memmap(
        folder / "profile.npy", mode="w+", dtype=np.float32,
        shape=(cfg.n_mels, 400 * len(files)),
    )  # fmt: skip
    totals = dict.fromkeys(("header", "read", "STFT", "mel", "dB", "cache write"), 0.0)
    at = 0
    for path in files:
        clock = time.perf_counter()
        info = probe(path, RATE)
        totals["header"] += (now := time.perf_counter()) - clock
        wave = read_audio(path, RATE, info)  # 16 kHz files: no resampling
        totals["read"] += (clock := time.perf_counter()) - now
        frames = transform.frames(wave)
        mel = np.empty((cfg.n_mels, len(frames)), dtype=np.float32)
        for start in range(0, len(frames), FRAME_CHUNK):
            chunk = slice(start, start + FRAME_CHUNK)
            clock = time.perf_counter()
            squares = transform.squares(frames[chunk])
            totals["STFT"] += (now := time.perf_counter()) - clock
            transform.mel(squares, out=mel[:, chunk])
            totals["mel"] += time.perf_counter() - now
        now = time.perf_counter()
        db = transform.to_db(mel)
        totals["dB"] += (clock := time.perf_counter()) - now
        out[:, at : at + db.shape[1]] = db
        at += db.shape[1]
        totals["cache write"] += time.perf_counter() - clock
    return {stage: 1000 * seconds / len(files) for stage, seconds in totals.items()}


def resample_ms(files: list[Path], folder: Path, count: int = 10) -> float:
    """Milliseconds per clip to bring a 48 kHz file to 16 kHz (files at 16 kHz skip this)."""
    paths = []
    for i, path in enumerate(files[:count]):
        wave = np.repeat(read_audio(path, RATE), 3)
        paths.append(folder / f"{i}.wav")
        sf.write(str(paths[-1]), wave, 3 * RATE, subtype="PCM_16")
    read_audio(paths[0], RATE)  # warm: the resampler's import
    started = time.perf_counter()
    for path in paths:
        read_audio(path, RATE)
    return 1000 * (time.perf_counter() - started) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile-clips", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cfg = FeatureConfig()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        files = write_clips(data, args.clips, args.seconds)
        aegan_runs, librosa_runs = [], []
        for run in range(
            args.repeats
        ):  # interleaved, best of each: a shared machine's speed drifts
            aegan_runs.append(run_aegan(data, Path(tmp) / f"home{run}"))
            librosa_runs.append(run_librosa(files, cfg))
        aegan_s, peak_rss = min(aegan_runs)
        librosa_s = min(librosa_runs)
        ceiling = fft_ceiling(files, cfg, min(args.clips, 200))
        profile = stage_profile(files[: args.profile_clips], cfg, Path(tmp))
        resample = resample_ms(files, Path(tmp))
    n = args.clips
    aegan_rate, librosa_rate = n / aegan_s, n / librosa_s
    print(f"log-mel features of {n} {args.seconds:g}-s {RATE // 1000} kHz clips, wav -> cache")
    print(f"  cores used by aegan: {worker_count()}")
    print(f"  aegan prepare (fresh process, start-up included): {aegan_s:6.2f} s  {aegan_rate:7.1f} clips/s  peak RSS {peak_rss / 2**20:.0f} MiB")  # fmt: skip
    print(f"  librosa warm loop (read + melspectrogram + dB):   {librosa_s:6.2f} s  {librosa_rate:7.1f} clips/s")  # fmt: skip
    print(f"  aegan / librosa: {aegan_rate / librosa_rate:.2f}x")
    print(f"  ceiling (FFT stage alone, frames in memory, all cores): {ceiling:.1f} clips/s")
    print(f"  aegan end to end = {aegan_rate / ceiling:.0%} of that ceiling")
    total = sum(profile.values())
    print(f"  stages, one thread, {min(n, args.profile_clips)} clips (ms per clip):")
    for stage, ms in profile.items():
        print(f"    {stage:12s} {ms:7.3f}  {ms / total:5.1%}")
    print(f"    (resample: {resample:.1f} ms per clip read from 48 kHz; none at 16 kHz)")


if __name__ == "__main__":
    main()
