"""Corpus cases: inputs that used to give a wrong answer, or a misleading message, in silence.

Model names that differ only in case, files that are not files, headers of 0 Hz, samples far
beyond ±1, band-limited recordings, a hop longer than a window, --plot with nothing to plot,
AEGAN_HOME on a file, an empty --name. The framework is ``corpus.py``.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import soundfile as sf
from safetensors import safe_open
from safetensors.torch import save_file

from aegan import paths
from aegan.features import audio
from tests.conftest import SET_SMALL, write_tone
from tests.robustness.corpus import Case, Workspace, bundle_with_header, corpus_test, write_wav

SCORE = ["score", "--json", "--gpu", "cpu", "--model", "fan-small"]
TONE = 0.1 * np.sin(np.arange(32000) / 5.0)


def tone(ws: Workspace) -> None:
    """The small model installed, and a 2-s tone to score with it."""
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "tone.wav", TONE)


def case_twin(ws: Workspace) -> None:
    """fan-small beside Fan-Small: two bundles whose names differ only in letter case."""
    tone(ws)
    shutil.copy(
        paths.models_dir() / "fan-small.safetensors", paths.models_dir() / "Fan-Small.safetensors"
    )


def recorded_at(rate: int):
    def setup(ws: Workspace) -> None:
        ws.fixture("installed_bundle")
        sf.write(str(ws.tmp / "phone.wav"), TONE[: rate * 2], rate, subtype="PCM_16")

    return setup


def two_phone_recordings(ws: Workspace) -> None:
    recorded_at(8000)(ws)
    shutil.copy(ws.tmp / "phone.wav", ws.tmp / "phone2.wav")


def loud(peak: float):
    def setup(ws: Workspace) -> None:
        ws.fixture("installed_bundle")
        write_wav(ws.tmp / "loud.wav", TONE / np.abs(TONE).max() * peak)

    return setup


def long_recording(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "long.wav", 0.1 * np.sin(np.arange(96000) / 5.0))


def fifo(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    os.mkfifo(ws.tmp / "pipe.wav")


def symlink_loop(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    (ws.tmp / "loop.wav").symlink_to(ws.tmp / "loop.wav")


def dangling_symlink(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    (ws.tmp / "link.wav").symlink_to(ws.tmp / "moved.wav")


def folder_as_model(ws: Workspace) -> None:
    (ws.tmp / "bundles").mkdir()
    write_wav(ws.tmp / "tone.wav", TONE)


def deleted_after_listing(ws: Workspace) -> None:
    """The file is listed, then deleted (by another program) before aegan reads it."""
    tone(ws)
    listed = audio.find_audio_files

    def list_then_delete(inputs):
        found = listed(inputs)
        for path in found:
            path.unlink()
        return found

    ws.fixture("monkeypatch").setattr(audio, "find_audio_files", list_then_delete)


def one_sample(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "one.wav", np.array([0.5]))


def header_rate_zero(ws: Workspace) -> None:
    tone(ws)
    data = bytearray((ws.tmp / "tone.wav").read_bytes())
    data[24:28] = (0).to_bytes(4, "little")  # the fmt chunk's sample rate
    (ws.tmp / "tone.wav").write_bytes(bytes(data))


def home_is_a_file(ws: Workspace) -> None:
    (ws.tmp / "aegan-home").write_text("not a folder")
    write_wav(ws.tmp / "tone.wav", TONE)
    ws.fixture("monkeypatch").setenv("AEGAN_HOME", str(ws.tmp / "aegan-home"))


def home_with_a_space(ws: Workspace) -> None:
    """AEGAN_HOME under a folder whose name has a space, and a broken bundle in it."""
    ws.fixture("monkeypatch").setenv("AEGAN_HOME", str(ws.tmp / "my home"))
    bundle_with_header(version="abc")(ws)


def labelled_folder_only(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    for i in range(2):
        write_tone(ws.tmp / "line3" / "test" / "normal" / f"n{i}.wav", seconds=1.5, seed=i)
        write_tone(ws.tmp / "line3" / "test" / "anomaly" / f"a{i}.wav", seconds=1.5, freq=900)


def few_segments(ws: Workspace) -> None:
    for i in range(6):
        write_tone(ws.tmp / "line3" / "train" / f"r{i}.wav", seconds=1.5, seed=i)


def dev_data_only(ws: Workspace) -> None:
    shutil.copytree(ws.fixture("synth22") / "dev_data", ws.tmp / "dcase" / "dev_data")


TRAIN_OWN = ["train", "--data", "{tmp}/line3", "--gpu", "cpu", *SET_SMALL]

CASES = [
    Case("model name: the exact spelling wins over a case twin",
         [*SCORE, "{tmp}/tone.wav"], 0, r'"model": "fan-small"', case_twin),
    Case("model name: case twins without an exact match are ambiguous",
         [*SCORE[:-1], "FAN-SMALL", "{tmp}/tone.wav"], 2,
         r"Model name 'FAN-SMALL' is ambiguous: \S+Fan-Small\.safetensors and "
         r"\S+fan-small\.safetensors differ only in letter case", case_twin),
    Case("band-limited: an 8 kHz recording is scored with one warning",
         [*SCORE, "{tmp}/phone.wav"], 0,
         r"Warning: \S+phone\.wav was recorded at 8000 Hz, below the model's 16000 Hz: it has "
         r"nothing above 4000 Hz", recorded_at(8000)),
    Case("band-limited: two 8 kHz recordings, one warning for the run",
         [*SCORE, "{tmp}/phone.wav", "{tmp}/phone2.wav"], 0,
         r"^(?!.*Warning:.*Warning:).*Warning: \S+phone2?\.wav was recorded at 8000 Hz.*"
         r"\(1 more alike\)", two_phone_recordings),
    Case("float samples of ±1e6 are refused, not scored 3.4e38",
         [*SCORE, "{tmp}/loud.wav"], 1,
         r"loud\.wav is unusable: its samples exceed \S+ \(peak 1e\+06\)", loud(1e6)),
    Case("float samples a little beyond ±1 are scored with a warning",
         [*SCORE, "{tmp}/loud.wav"], 0,
         r"Warning: \S+loud\.wav has samples beyond ±1 \(peak 2\)", loud(2.0)),
    Case("timeline: a hop longer than a window is refused",
         [*SCORE, "{tmp}/long.wav", "--hop", "5"], 2,
         r"The hop \(5 s\) is longer than a window \(1\.50 s\): 3\.50 s after every window "
         r"would go unscored", long_recording),
    Case("timeline: --fail-on-anomaly with a hop longer than a window is refused",
         [*SCORE, "{tmp}/long.wav", "--hop", "2", "--fail-on-anomaly"], 2,
         r"The hop \(2 s\) is longer than a window", long_recording),
    Case("--plot with --whole is refused", [*SCORE, "{tmp}/long.wav", "--whole", "--plot",
         "{tmp}/plots"], 2, r"--plot draws timelines, and --whole scores every file as one "
         r"clip", long_recording),
    Case("--plot of a file too short for a timeline says so",
         [*SCORE, "{tmp}/tone.wav", "--plot", "{tmp}/plots"], 0,
         r"Note: no timeline picture for 1 file\(s\) scored as one clip \(\S+tone\.wav\): "
         r"files over 2\.25 s get a timeline", tone),
    Case("a named pipe", [*SCORE, "{tmp}/pipe.wav"], 1,
         r"pipe\.wav is a named pipe \(FIFO\), not a file", fifo),
    Case("a loop of symbolic links", [*SCORE, "{tmp}/loop.wav"], 1,
         r"loop\.wav is a loop of symbolic links", symlink_loop),
    Case("a link to a file that was moved", [*SCORE, "{tmp}/link.wav"], 1,
         r"link\.wav is a symbolic link to \S+moved\.wav, which does not exist",
         dangling_symlink),
    Case("a folder given as --model", ["score", "--model", "{tmp}/bundles", "{tmp}/tone.wav"],
         1, r"Model bundle \S+bundles is a folder, not a file", folder_as_model),
    Case("a file deleted after it was listed", [*SCORE, "{tmp}/tone.wav"], 1,
         r"tone\.wav does not exist any more \(deleted or moved after it was listed\?\)",
         deleted_after_listing, unchanged=("home",)),
    Case("a 1-sample WAV is too short, not silent", [*SCORE, "{tmp}/one.wav"], 1,
         r"one\.wav is too short: it gives 1 frames", one_sample, forbidden=("silence",)),
    Case("a WAV header of 0 Hz", [*SCORE, "{tmp}/tone.wav"], 1,
         r"Cannot read \S+tone\.wav as audio: its header gives a sample rate of 0 Hz",
         header_rate_zero, forbidden=("SF_INFO", "Internal error")),
    Case("AEGAN_HOME on a file: models", ["models"], 2,
         r"AEGAN_HOME is \S+aegan-home, which is a file, not a folder", home_is_a_file),
    Case("AEGAN_HOME on a file: score", ["score", "--model", "fan22", "{tmp}/tone.wav"], 2,
         r"AEGAN_HOME is \S+aegan-home, which is a file, not a folder", home_is_a_file),
    Case("hints quote paths with spaces", ["models"], 0,
         r"`aegan score --model '\S+/my home/cache/models/fan-bad\.safetensors' FILE`",
         home_with_a_space, unchanged=()),
    Case("test NAME --data DIR needs test/ only",
         ["test", "fan-small", "--data", "{tmp}/line3", "--gpu", "cpu", "-o", "{tmp}/out"], 0,
         r"clips anomalous", labelled_folder_only, unchanged=()),
    Case("too little audio counts the segments that are short", TRAIN_OWN, 1,
         r"its 6 recordings give 96 segments \(model inputs of 32 frames\), fewer than one "
         r"training batch of \d+", few_segments),
    Case("an empty --name is refused", [*TRAIN_OWN, "--name", ""], 2,
         r"The model name is empty \(''\)", few_segments),
    Case("missing eval data: the hint gives an option train has",
         ["train", "fan", "--year", "22", "-d", "{tmp}/dcase", "--gpu", "cpu", "--set",
          "train_set=deval"], 1,
         r"eval_data/fan/train is missing\. Download it with .*, or train on the dev data "
         r"alone: --set train_set=dev\.", dev_data_only, forbidden=("--train-set",)),
]  # fmt: skip

test_cases = corpus_test(CASES)


def test_models_lists_case_twins_each_with_its_own_size(installed_bundle, runner):
    import json

    from aegan.cli import app

    twin = paths.models_dir() / "Fan-Small.safetensors"  # a header entry more: a larger file
    with safe_open(str(installed_bundle), framework="pt") as fh:
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
        save_file(tensors, str(twin), metadata={**fh.metadata(), "note": "x" * 100})
    result = runner.invoke(app, ["models", "--json"])
    sizes = {
        e["name"]: e["size"] for e in json.loads(result.output) if "small" in e["name"].lower()
    }
    assert sizes == {"fan-small": installed_bundle.stat().st_size, "Fan-Small": twin.stat().st_size}
