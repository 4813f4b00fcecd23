"""Shared fixtures: every test runs with its own AEGAN_HOME, never the user's."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from aegan.calibration.calibrate import calibrate


@pytest.fixture(autouse=True)
def aegan_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("aegan_home")
    monkeypatch.setenv("AEGAN_HOME", str(home))
    return home


@pytest.fixture
def runner(monkeypatch):
    """Typer's test runner with a terminal wide enough that rich does not squeeze tables."""
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def write_tone(path, seconds=2.0, sample_rate=16000, freq=440.0, channels=1, seed=0):
    """A tone plus noise as 16-bit PCM, the format DCASE ships."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sample_rate, subtype="PCM_16")
    return path


def rewrite_bundle(source, target, tensor=None, scaler=None):
    """A copy of a bundle with its first floating generator tensor filled with ``tensor``
    and/or another scaler (JSON), to make a damaged but well-formed bundle."""
    import json

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), framework="pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    if tensor is not None:
        key = next(k for k in tensors if k.startswith("netG.") and tensors[k].is_floating_point())
        tensors[key] = torch.full_like(tensors[key], tensor)
    if scaler is not None:
        metadata["scaler"] = json.dumps(scaler)
    save_file(tensors, str(target), metadata=metadata)
    return target


def labelled_test_clip(year, machine, section, index, domain, label):
    """A labelled dev test clip as its DCASE name describes it (label 0 normal, 1 anomaly)."""
    from pathlib import Path

    from aegan.dcase.clips import Clip

    kind = "anomaly" if label else "normal"
    return Clip(
        path=Path(f"section_{section}_{domain}_test_{kind}_{index:04d}.wav"),
        year=year, machine=machine, subset="dev", split="test", group=section,
        index=f"{index:04d}", domain=domain, label=label,
    )  # fmt: skip


SMALL_NET = [
    "net.isize=32", "feat.n_mels=32", "feat.segment_frames=32",
    "net.ndf=8", "net.ngf=8", "net.nz=16",
]  # fmt: skip
"""--set overrides for a tiny model: the architecture is generic in size."""


def set_options(items: list[str]) -> list[str]:
    """Command-line words ``--set KEY=VALUE`` for each item."""
    return [word for item in items for word in ("--set", item)]


SET_SMALL = set_options(SMALL_NET)
"""The tiny model's overrides as command-line words."""


@contextmanager
def aegan_home_at(folder):
    """AEGAN_HOME for session-scoped fixtures (monkeypatch is per test)."""
    before = os.environ.get("AEGAN_HOME")
    os.environ["AEGAN_HOME"] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("AEGAN_HOME", None)
        else:
            os.environ["AEGAN_HOME"] = before


@pytest.fixture(scope="session")
def synth22(tmp_path_factory):
    """A small synthetic DCASE 2022 fan data set: 3 dev + 3 eval sections, 1.5-s clips."""
    from aegan.synth.dataset import SynthSpec, write_dataset

    root = tmp_path_factory.mktemp("synth22")
    spec = SynthSpec(
        year=2022, machines=("fan",), seconds=1.5, train_source=6, train_target=2,
        test_normal=3, test_anomaly=3, seed=0,
    )  # fmt: skip
    write_dataset(root, spec)
    return root


@pytest.fixture(scope="session")
def small_bundle(synth22, tmp_path_factory):
    """A calibrated bundle of an untrained tiny fan model (weights from a fixed seed)."""
    import torch

    from aegan.bundles.provenance import Provenance
    from aegan.config import schema as config
    from aegan.features.prepare import prepare_machine
    from aegan.model.nets import Discriminator, Generator

    home = tmp_path_factory.mktemp("bundle_home")
    with aegan_home_at(home):
        cfg = config.load_config(22, "fan", overrides=[*SMALL_NET, "train_set=dev"])
        prepared = prepare_machine(cfg, synth22, include_test=False)
        torch.manual_seed(0)
        detector = calibrate(
            cfg, Generator(cfg.net), Discriminator(cfg.net), [prepared["dev_train"].features],
            provenance=Provenance.new("trained", selection="last"), name="fan-small",
        )  # fmt: skip
        return detector.save(home / "fan-small.safetensors")


@pytest.fixture
def installed_bundle(small_bundle):
    """The small bundle copied into this test's models folder, as model 'fan-small'."""
    from aegan import paths

    target = paths.models_dir() / small_bundle.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(small_bundle, target)
    return target
