"""Robustness cases of own data sets: `aegan train --data`, `aegan test --data`.

The framework is ``corpus.py``; every case gives one clear message and changes no file.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SET_SMALL, write_tone
from tests.robustness.corpus import Case, Workspace, corpus_test

TRAIN = ["train", "--data", "{tmp}/line3", "--name", "mine", "--gpu", "cpu", *SET_SMALL]
TEST = ["test", "fan-small", "--data", "{tmp}/line3", "--gpu", "cpu"]


def _recordings(folder: Path, count: int, seconds: float = 1.5) -> None:
    for i in range(count):
        write_tone(folder / f"line3_2026-11-02_08{i:02d}.wav", seconds=seconds, seed=i)


def no_train_folder(ws: Workspace) -> None:
    _recordings(ws.tmp / "line3" / "test" / "normal", 2)


def empty_train_folder(ws: Workspace) -> None:
    (ws.tmp / "line3" / "train" / "notes").mkdir(parents=True)
    (ws.tmp / "line3" / "train" / "notes" / "readme.txt").write_text("recordings follow")


def too_little_audio(ws: Workspace) -> None:
    _recordings(ws.tmp / "line3" / "train", 2)


def unreadable_recording(ws: Workspace) -> None:
    _recordings(ws.tmp / "line3" / "train", 6)
    (ws.tmp / "line3" / "train" / "line3_broken.wav").write_bytes(b"RIFF, but not really")


def only_normal_test_clips(ws: Workspace) -> None:
    _recordings(ws.tmp / "line3" / "train", 6)
    _recordings(ws.tmp / "line3" / "test" / "normal", 2)


def train_only(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    _recordings(ws.tmp / "line3" / "train", 6)


def init_of_another_network(ws: Workspace) -> None:
    train_only(ws)


# fmt: off
CASES = [
    Case("own data: the folder does not exist", TRAIN, 1,
         r"Data folder .*ws/line3 does not exist"),
    Case("own data: no train folder", TRAIN, 1,
         r"ws/line3 has no train/ folder", no_train_folder),
    Case("own data: no audio in train", TRAIN, 1,
         r"ws/line3/train holds no audio files \(\.wav, \.flac\)", empty_train_folder),
    Case("own data: too little audio", TRAIN, 1,
         r"Too little audio in .*ws/line3/train: 2 recording\(s\), 3\.0 s in all.* needs at "
         r"least 5 recordings of at least \d\.\d\d s each and about \d+ s in all", too_little_audio),
    Case("own data: an unreadable recording", TRAIN, 1,
         r"Cannot read .*line3_broken\.wav as audio", unreadable_recording),
    Case("own data: a test folder without anomalies", TRAIN, 1,
         r"ws/line3/test/anomaly is missing", only_normal_test_clips),
    Case("own data: a machine type and --data", ["train", "fan", "--data", "{tmp}/line3"], 2,
         r"Give a machine type \(fan\) or --data DIR, not both"),
    Case("own data: an unknown recipe", [*TRAIN, "--recipe", "fann22"], 2,
         r"Unknown model 'fann22'", train_only),
    Case("own data: --init of another network", [*TRAIN, "--init", "fan-small",
         "--set", "net.nz=32"], 2, r"--init fan-small: its network differs from this run's: "
         r"net\.nz \(16 there, 32 here\)", init_of_another_network),
    Case("own data: testing without a test folder", TEST, 1,
         r"ws/line3 has no test/ folder, so there is nothing to test on", train_only),
]
# fmt: on

test_cases = corpus_test(CASES)
