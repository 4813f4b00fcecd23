"""The robustness corpus framework: bad inputs a user can give, each one clear message.

Each case is one ``Case``: the command line, a setup that builds its bad input
in a workspace, the exit code and a pattern of the one error message expected.
Every case also asserts that no traceback is shown and, unless it says
otherwise, that nothing under the workspace or AEGAN_HOME changed (the cache,
the lock file, the models folder, the user's files).

The cases live in ``tests/robustness/test_<topic>_cases.py`` files; each holds
a ``CASES`` list and one line, ``test_cases = corpus_test(CASES)``, plus
``pytest_plugins = ["fake_servers"]`` when a setup uses the fake hub. ``{tmp}``
in a command line is the workspace folder, and a setup may add names
(``ws.values``). The setups shared by several topics are here.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from fake_servers import SHARE_TOKEN, FakeHub, ZenodoRecord
from safetensors import safe_open
from safetensors.torch import save_file

from aegan import paths
from aegan.bundles.registry import require_published
from aegan.cli import app
from aegan.config import schema as config
from aegan.config.settings import save_setting
from aegan.hub.seafile import copy_checkpoint
from aegan.model.nets import Discriminator, Generator
from tests.conftest import SMALL_NET, rewrite_bundle


@dataclass
class Workspace:
    """Where a case builds its input: ``tmp`` (its own folder), ``home`` (AEGAN_HOME), and
    fixtures on request (``fixture("installed_bundle")``)."""

    tmp: Path
    home: Path
    request: pytest.FixtureRequest
    values: dict[str, str] = field(default_factory=dict)  # more {name}s for the command line

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    expected_exit: int
    message: str  # a regex the error output must match
    setup: Callable[[Workspace], None] | None = None
    unchanged: tuple[str, ...] = ("home", "tmp")  # folders no byte of which may change
    forbidden: tuple[str, ...] = ("weights_only",)  # text the output must never hold


# ---------------------------------------------------------------- setups


def checkpoint(path: Path, overrides: list[str], fill: float | None = None) -> Path:
    cfg = config.load_config(22, "fan", None, overrides)
    torch.manual_seed(0)
    netg, netd = Generator(cfg.net).state_dict(), Discriminator(cfg.net).state_dict()
    if fill is not None:
        key = next(k for k, v in netg.items() if v.is_floating_point())
        netg[key] = torch.full_like(netg[key], fill)
    torch.save({"netG": netg, "netD": netd, "best_hmean": 0.7}, path)
    return path


class Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned > pwned.txt",))


def good_checkpoint_cached(ws: Workspace) -> None:
    good = checkpoint(ws.tmp / "good.pth", SMALL_NET)
    copy_checkpoint(good, require_published("fan22"))
    good.unlink()


def wrong_architecture(ws: Workspace) -> None:
    good_checkpoint_cached(ws)
    checkpoint(ws.tmp / "wrong.pth", [*SMALL_NET, "net.ndf=16"])


def pickle_bomb(ws: Workspace) -> None:
    good_checkpoint_cached(ws)
    torch.save({"netG": {}, "netD": {}, "x": Payload()}, ws.tmp / "evil.pth")


def nan_weights(ws: Workspace) -> None:
    good_checkpoint_cached(ws)
    checkpoint(ws.tmp / "nan.pth", SMALL_NET, fill=float("nan"))


def use_hub(hub: FakeHub) -> None:
    settings = {"seafile_url": hub.url, "seafile_token": SHARE_TOKEN, "zenodo_url": hub.url}
    for key, value in {**settings, "retries": "0", "timeout": "5"}.items():
        save_setting(f"hub.{key}", value)


def share_serves_wrong_architecture(ws: Workspace) -> None:
    good_checkpoint_cached(ws)
    hub = ws.fixture("fake_hub")
    hub.share["/dcase22/fan.pth"] = checkpoint(ws.tmp / "x.pth", ["net.ndf=8"]).read_bytes()
    (ws.tmp / "x.pth").unlink()
    use_hub(hub)


def zenodo_serves_zip_bomb(ws: Workspace) -> None:
    hub = ws.fixture("fake_hub")
    wav = "dev_data/fan/train/section_00_source_train_normal_0000_a.wav"
    with zipfile.ZipFile(ws.tmp / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(wav, bytes(64 << 20))
    hub.zenodo[6355122] = ZenodoRecord({"dev_fan.zip": (ws.tmp / "bomb.zip").read_bytes()})
    (ws.tmp / "bomb.zip").unlink()
    use_hub(hub)


def write_wav(path: Path, samples: np.ndarray) -> None:
    sf.write(str(path), samples.astype(np.float32), 16000, subtype="FLOAT")


def nan_wav(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "nan.wav", np.r_[np.zeros(16000), np.nan, np.zeros(47999)])


def silent_wav(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    write_wav(ws.tmp / "silence.wav", np.zeros(64000))


def bad_bundle(ws: Workspace, fill: float | None = None, scaler: dict | None = None) -> None:
    paths.models_dir().mkdir(parents=True, exist_ok=True)
    rewrite_bundle(
        ws.fixture("small_bundle"), paths.models_dir() / "fan-bad.safetensors", fill, scaler
    )
    write_wav(ws.tmp / "tone.wav", 0.1 * np.sin(np.arange(64000) / 5.0))


def bundle_with_header(**entries: str) -> Callable[[Workspace], None]:
    """A setup: the good bundle fan-small installed, and beside it (newer) fan-bad, a copy
    whose header entries are replaced by ``entries``; plus a tone to score."""

    def setup(ws: Workspace) -> None:
        ws.fixture("installed_bundle")
        with safe_open(str(ws.fixture("small_bundle")), framework="pt") as fh:
            metadata = {**fh.metadata(), **entries}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
        save_file(tensors, str(paths.models_dir() / "fan-bad.safetensors"), metadata=metadata)
        write_wav(ws.tmp / "tone.wav", 0.1 * np.sin(np.arange(64000) / 5.0))
        ws.values["data"] = str(ws.fixture("synth22"))

    return setup


def settings_file(text: str) -> Callable[[Workspace], None]:
    """A setup: the user settings file holding ``text`` (as a user may have edited it)."""

    def setup(ws: Workspace) -> None:
        paths.user_config_file().parent.mkdir(parents=True, exist_ok=True)
        paths.user_config_file().write_text(text)

    return setup


def foreign_run_checkpoint(payload: Any) -> Callable[[Workspace], None]:
    def setup(ws: Workspace) -> None:
        run = paths.runs_dir() / "myrun"
        run.mkdir(parents=True)
        torch.save(payload, run / "checkpoint.pt")

    return setup


def synthetic_data(ws: Workspace) -> None:
    ws.values["data"] = str(ws.fixture("synth22"))


def existing_report(ws: Workspace) -> None:
    (ws.tmp / "report.md").write_text("my notes")


# ---------------------------------------------------------------- the runner


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and its SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_case(case: Case, runner, aegan_home: Path, tmp_path: Path, request, monkeypatch) -> None:
    """Build the case's input, run its command line, check exit code, message and files."""
    monkeypatch.chdir(tmp_path)  # a pickle that ran code would leave its file here
    ws = Workspace(tmp_path / "ws", aegan_home, request)
    ws.tmp.mkdir()
    if case.setup is not None:
        case.setup(ws)
    folders = {"home": ws.home, "tmp": ws.tmp}
    before = {name: snapshot(folders[name]) for name in case.unchanged}
    argv = [arg.format(tmp=ws.tmp, **ws.values) for arg in case.argv]
    result = runner.invoke(app, argv)
    output = result.output
    assert result.exit_code == case.expected_exit, output
    assert "Traceback" not in output and not isinstance(result.exception, AssertionError)
    assert output.count("Error:") <= 1, output  # one message (score lists files instead)
    assert re.search(case.message, " ".join(output.split())), output
    for text in case.forbidden:
        assert text not in output
    assert not (tmp_path / "pwned.txt").exists()
    for name in case.unchanged:
        assert snapshot(folders[name]) == before[name], f"{name} changed"


def corpus_test(cases: list[Case]) -> Callable[..., None]:
    """The parametrised test of a list of cases, for a ``test_<topic>_cases.py`` module."""

    @pytest.mark.parametrize("case", cases, ids=[c.name for c in cases])
    def test_a_bad_input_gives_one_clear_message(
        case: Case, runner, aegan_home: Path, tmp_path: Path, request, monkeypatch
    ) -> None:
        run_case(case, runner, aegan_home, tmp_path, request, monkeypatch)

    return test_a_bad_input_gives_one_clear_message
