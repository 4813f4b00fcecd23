"""Corpus cases: the channel a model reads, the original code's config files, 2026 labels."""

from __future__ import annotations

import dataclasses

import numpy as np

from aegan import paths
from aegan.detector.detector import Detector
from aegan.synth.dataset import SynthSpec, write_dataset
from tests.robustness.corpus import Case, Workspace, corpus_test, write_wav

SHOW_22 = ["config", "show", "fan", "--year", "22", "--config", "{tmp}/fan_cfg.yaml"]


def _install_variant(ws: Workspace, name: str, **changes) -> None:
    """The small model saved again as model ``name`` with config fields changed."""
    detector = Detector.load_file(ws.fixture("small_bundle"))
    feat = dataclasses.replace(detector.cfg.feat, **changes.pop("feat", {}))
    detector.cfg = dataclasses.replace(detector.cfg, feat=feat, **changes)
    detector.save(paths.models_dir() / f"{name}.safetensors")


def far_model_and_mono_file(ws: Workspace) -> None:
    _install_variant(ws, "fan-far", feat={"channel": 1})
    rng = np.random.default_rng(0)
    write_wav(ws.tmp / "mono.wav", 0.1 * np.sin(np.arange(32000) / 5.0) + 0.01 * rng.random(32000))


def original_file(text: str):
    def setup(ws: Workspace) -> None:
        (ws.tmp / "fan_cfg.yaml").write_text(text, encoding="utf-8")

    return setup


def sander26_without_labels(ws: Workspace) -> None:
    """A 2026 Sander eval test set, a model of it, and a ground-truth folder without its files."""
    spec = SynthSpec(
        year=2026, machines=("Sander",), seconds=1.5, train_source=2, train_target=1,
        test_normal=1, test_anomaly=1, seed=0,
    )  # fmt: skip
    write_dataset(ws.tmp / "data", spec)
    (ws.tmp / "labels").mkdir()
    _install_variant(ws, "sander-small", year=2026, machine="Sander")


def sander26_model_without_data(ws: Workspace) -> None:
    (ws.tmp / "data" / "dev_data").mkdir(parents=True)
    _install_variant(ws, "sander-small", year=2026, machine="Sander")


# fmt: off
CASES = [
    Case("score: a mono file for a model of channel 1",
         ["score", "--gpu", "cpu", "--model", "fan-far", "{tmp}/mono.wav", "--json"], 1,
         r"mono\.wav has 1 channel, but the model reads channel 1 \(feat\.channel\)",
         far_model_and_mono_file),
    Case("config: a channel that is neither mix nor an index",
         ["config", "show", "fan", "--year", "26", "--set", "feat.channel=near"], 2,
         r"'feat\.channel' must be 'mix' \(the mean of the channels\) or a channel index"),
    Case("config: an original file with another spectrogram", SHOW_22, 2,
         r"sets feat\.spec to 'stft', but aegan works with 'mel' only",
         original_file("feat:\n  spec: stft\n  fft_num: 2048\n")),
    Case("config: an original file for another machine type", SHOW_22, 2,
         r"is for machine 'slider', but this command is for 'fan'",
         original_file("mt:\n  train: [slider]\n  test: [slider]\n")),
    Case("config: an original file naming another edition's machine type", SHOW_22, 2,
         r"fan_cfg\.yaml: Unknown machine type 'pump' for DCASE 2022",
         original_file("mt:\n  train: [pump]\n  test: [pump]\n")),
    Case("config: an original file coding labels otherwise", SHOW_22, 2,
         r"sets repre\.anomaly to -1, but aegan works with 1 only",
         original_file("repre: {normal: 0, anomaly: -1}\n")),
    Case("test: 2026 eval labels missing from --ground-truth DIR",
         ["test", "Sander", "--year", "26", "--split", "eval", "--model", "sander-small",
          "--gpu", "cpu", "--data-dir", "{tmp}/data", "--ground-truth", "{tmp}/labels"], 1,
         r"ground_truth_data/ground_truth_Sander_section_00_test\.csv is missing(.|\n)*"
         r"not published yet(.|\n)*--ground-truth DIR",
         sander26_without_labels),
    Case("test: the 2026 eval test set not downloaded",
         ["test", "Sander", "--year", "26", "--split", "eval", "--model", "sander-small",
          "--gpu", "cpu", "--data-dir", "{tmp}/data"], 1,
         r"No eval test data for Sander \(DCASE 2026\)(.|\n)*aegan fetch --data Sander --year 26 "
         r"--split eval` \(it is published in Zenodo record 20437238\)",
         sander26_model_without_data),
]
# fmt: on

test_cases = corpus_test(CASES)
