"""Corpus cases of faults a long-running aegan meets: full disks, odd file names, folders
that cannot be written, a resumed run on other data, names shared by two files, sizes
beyond the machine's memory.

The disk-full cases mount a small tmpfs, which needs root; elsewhere they are skipped.
The framework is ``corpus.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aegan import paths
from aegan.cli import app
from aegan.owndata.folder import OwnData
from aegan.owndata.training import own_config
from aegan.training import runs
from tests.conftest import SET_SMALL, SMALL_NET, set_options, write_tone
from tests.robustness.corpus import Case, Workspace, corpus_test, long_recording, write_wav

BAD_NAME = os.fsdecode(b"bad\xff.wav")  # not UTF-8: Python holds the byte as a surrogate
SMALL_BATCH = ["--set", "train.batch_size=32"]
TRAIN = ["train", "--data", "{tmp}/line3", "--name", "mine", "--gpu", "cpu", *SET_SMALL]
SCORE = ["score", "--gpu", "cpu", "--model", "fan-small"]


@pytest.fixture
def small_drive() -> Iterator[Callable[[Path, int], Path]]:
    """Mount a tmpfs of a few KB at a folder (the disk that fills); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, and mounting one needs root")
    mounted: list[Path] = []

    def mount(folder: Path, kilobytes: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the drive of ``folder`` up to its last byte, or up to ``leave`` bytes."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        try:
            while fh.write(bytes(4096)):
                pass
        except OSError:
            pass
        fh.truncate(max(0, fh.tell() - leave))


def recordings(folder: Path, count: int, seconds: float = 1.5) -> None:
    for i in range(count):
        write_tone(folder / f"line3_{i:02d}.wav", seconds=seconds, seed=i)


def no_part_files(folder_of: Callable[[Workspace], Path]) -> Callable[[Workspace], None]:
    """An after-check: no staging file or folder is left in the folder, nor any lock."""

    def check(ws: Workspace) -> None:
        left = [p.name for p in folder_of(ws).rglob(".*") if p.name.endswith((".part", ".lock"))]
        assert not left, left

    return check


# ---------------------------------------------------------------- setups


def badly_named_tone(folder: Path) -> None:
    """A good recording under a name that is not UTF-8 (soundfile cannot write it there)."""
    os.rename(write_tone(folder / "tone.wav", seconds=1.5, seed=9), folder / BAD_NAME)


def name_not_utf8(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_tone(ws.tmp / "clips" / "good.wav", seconds=1.5)
    badly_named_tone(ws.tmp / "clips")


def training_name_not_utf8(ws: Workspace) -> None:
    recordings(ws.tmp / "line3" / "train", 6)
    badly_named_tone(ws.tmp / "line3" / "train")


def features_fill_the_disk(ws: Workspace) -> None:
    recordings(ws.tmp / "line3" / "train", 12, seconds=10.0)
    ws.fixture("small_drive")(paths.features_dir(), 128)


def checkpoint_fills_the_disk(ws: Workspace) -> None:
    recordings(ws.tmp / "line3" / "train", 6)
    ws.fixture("small_drive")(paths.runs_dir(), 40)


def labelled_test_folder(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    recordings(ws.tmp / "line3" / "train", 1)
    recordings(ws.tmp / "line3" / "test" / "normal", 2)
    recordings(ws.tmp / "line3" / "test" / "anomaly", 2)


def results_fill_the_disk(ws: Workspace) -> None:
    """Earlier results on a drive with room for a few of the new files, not for all."""
    ws.fixture("installed_bundle")
    ws.values["data"] = str(ws.fixture("synth22"))
    drive = ws.fixture("small_drive")(ws.tmp / "drive", 64)
    (drive / "results").mkdir()
    (drive / "results" / paths.RESULTS_FILE).write_text(json.dumps({"model": "earlier"}))
    (drive / "results" / "anomaly_score_fan_section_00_test.csv").write_text("a.wav,0.5\n")
    fill(drive, leave=16 << 10)  # four of the section files fit; scores and results do not


def plot_folder_under_a_file(ws: Workspace) -> None:
    long_recording(ws)
    (ws.tmp / "notes.txt").write_text("my notes")


def plot_fills_the_disk(ws: Workspace) -> None:
    long_recording(ws)
    fill(ws.fixture("small_drive")(ws.tmp / "drive", 16))


def run_of_other_data(ws: Workspace) -> None:
    """Run 'mine' trained one epoch on line3; line4 is another data folder."""
    for name in ("line3", "line4"):
        recordings(ws.tmp / name / "train", 6)
    own = OwnData.at(ws.tmp / "line3")
    cfg = own_config(own, None, None, None, [*SMALL_NET, "train.batch_size=32"])
    runs.start_fresh(runs.run_dir("mine"), cfg)
    checkpoint = runs.Checkpoint(cfg, 1, {}, [], data=str(own.folder))
    runs.save_checkpoint(runs.run_dir("mine"), checkpoint)


def map_of_a_namesake(ws: Workspace) -> None:
    """An earlier run mapped first/x.wav into maps/; now second/x.wav, another recording."""
    ws.fixture("installed_bundle")
    write_tone(ws.tmp / "first" / "x.wav", seconds=1.5)
    write_tone(ws.tmp / "second" / "x.wav", seconds=1.5, freq=880.0)
    argv = ["localize", "-m", "fan-small", "--gpu", "cpu", str(ws.tmp / "first" / "x.wav")]
    done = CliRunner().invoke(app, [*argv, "-o", str(ws.tmp / "maps")])
    assert done.exit_code == 0, done.output
    ws.values["earlier"] = json.dumps(
        {p.name: p.read_bytes().hex()[:64] for p in sorted((ws.tmp / "maps").iterdir())}
    )


def earlier_map_kept(ws: Workspace) -> None:
    before = json.loads(ws.values["earlier"])
    after = {name: (ws.tmp / "maps" / name).read_bytes().hex()[:64] for name in before}
    assert after == before
    assert {p.name for p in (ws.tmp / "maps").iterdir()} == {*before, "x-2.png", "x-2.npz"}


def recording_of_eleven_minutes(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "long.wav", np.tile(0.1 * np.sin(np.arange(16000) / 5.0), 660))


def long_enough_for_a_huge_net(ws: Workspace) -> None:
    recordings(ws.tmp / "line3" / "train", 6, seconds=40.0)


HUGE_NET = set_options(["net.isize=1024", "feat.n_mels=1024", "feat.segment_frames=1024"])
HOME_RUNS = no_part_files(lambda ws: paths.runs_dir())

# fmt: off
CASES = [
    Case("a file name that is not UTF-8 is one error row; the others are scored",
         [*SCORE, "--json", "{tmp}/clips"], 1,
         r'bad\\\\xff\.wav: its name is not valid UTF-8.*"file": "\S+good\.wav", '
         r'"score": \d', name_not_utf8),
    Case("training on a folder with a file name that is not UTF-8",
         [*TRAIN, *SMALL_BATCH], 1,
         r"Cannot read \S+line3/train/bad\\xff\.wav: its name is not valid UTF-8.* Rename",
         training_name_not_utf8, unchanged=("tmp",), after=no_part_files(lambda ws: ws.home)),
    Case("a full disk while features are written", [*TRAIN, *SMALL_BATCH], 1,
         r"Cannot write the features of own-line3-\S+ into \S+/features/\S+: No space left "
         r"on device\. Free disk space", features_fill_the_disk,
         after=no_part_files(lambda ws: ws.home)),
    Case("a full disk while the training checkpoint is written",
         [*TRAIN, *SMALL_BATCH, "--set", "train.epochs=1", "--select", "last"], 1,
         r"Cannot write the training checkpoint \S+/runs/mine/checkpoint\.pt: No space left "
         r"on device", checkpoint_fills_the_disk, unchanged=("tmp",), after=HOME_RUNS, slow=True),
    Case("a full disk while aegan test writes --out",
         ["test", "fan", "--year", "22", "--model", "fan-small", "--data-dir", "{data}",
          "--gpu", "cpu", "--out", "{tmp}/drive/results"], 1,
         r"Cannot write the results folder \S+/drive/results: No space left on device",
         results_fill_the_disk, unchanged=("tmp",)),
    Case("aegan test --out a folder of other files",
         ["test", "fan-small", "--data", "{tmp}/line3", "--gpu", "cpu", "--out", "{tmp}"], 2,
         r"ws holds other files; a results folder is replaced as a whole",
         labelled_test_folder),
    Case("resuming a run with another --data folder",
         ["train", "--data", "{tmp}/line4", "--name", "mine", "--resume", "--gpu", "cpu",
          *SET_SMALL, *SMALL_BATCH], 2,
         r"Run 'mine' trains on \S+/line3, not \S+/line4; a resumed run keeps its data\. "
         r"Resume with --data \S+/line3", run_of_other_data),
    Case("a --plot folder that cannot be made: the scores are still printed",
         [*SCORE, "{tmp}/long.wav", "--plot", "{tmp}/notes.txt/plots"], 1,
         r"long\.wav .*(ANOMALY|normal).* anomalous\. Error: Cannot write the timeline pictures "
         r"into \S+notes\.txt/plots: Not a directory", plot_folder_under_a_file),
    Case("a full disk under --plot: the scores are still printed",
         [*SCORE, "{tmp}/long.wav", "--json", "--plot", "{tmp}/drive/plots"], 1,
         r'(?=.*"score": \d)(?=.*Error: Cannot write the timeline pictures into \S+/drive/plots: '
         r"No space left on device)", plot_fills_the_disk),
    Case("localize keeps the map of another file of the same name",
         ["localize", "-m", "fan-small", "--gpu", "cpu", "{tmp}/second/x.wav", "-o",
          "{tmp}/maps"], 0,
         r"second/x\.wav: \S+maps holds a map of another x\.wav; this one is x-2\.png",
         map_of_a_namesake, unchanged=("home",), after=earlier_map_kept),
    Case("localize over more than ten minutes at once",
         ["localize", "-m", "fan-small", "--gpu", "cpu", "{tmp}/long.wav", "-o", "{tmp}/maps"],
         1, r"long\.wav would be mapped over 660 s; one map covers at most 600 s .* --start 0 "
         r"--end 600", recording_of_eleven_minutes),
    Case("training settings that need more memory than the machine has",
         ["train", "--data", "{tmp}/line3", "--name", "mine", "--gpu", "cpu", *HUGE_NET], 1,
         r"Training with batches of 512 would need about \d+\.\d GB of memory, more than "
         r"the \d+\.\d GB free on CPU\. Lower train\.batch_size \(e\.g\. --set "
         r"train\.batch_size=128\)", long_enough_for_a_huge_net, unchanged=("tmp",),
         after=HOME_RUNS),
]
# fmt: on

test_cases = corpus_test(CASES)
