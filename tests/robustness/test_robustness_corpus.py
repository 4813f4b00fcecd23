"""The robustness corpus: bad inputs a user can give, each one clear message and no traceback.

Each case is one ``Case``: the command line, a setup that builds its bad input
in a workspace, the exit code and a pattern of the one error message expected.
Every case also asserts that no traceback is shown and, unless it says
otherwise, that nothing under the workspace or AEGAN_HOME changed (the cache,
the lock file, the models folder, the user's files). To add a case, write its
setup (if any) and append a ``Case`` to ``CASES``; ``{tmp}`` in the command line
is the workspace folder, and a setup may add names (``ws.values``).
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

from aegan import paths
from aegan.cli import app
from aegan.config import schema as config
from aegan.config.settings import save_setting
from aegan.hub.seafile import copy_checkpoint
from aegan.model.nets import Discriminator, Generator
from aegan.model.registry import require_published
from tests.conftest import SMALL_NET, rewrite_bundle

pytest_plugins = ["fake_servers"]  # the fake_hub fixture

SET_SMALL = [word for item in SMALL_NET for word in ("--set", item)]


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


def _checkpoint(path: Path, overrides: list[str], fill: float | None = None) -> Path:
    cfg = config.load_config(22, "fan", None, overrides)
    torch.manual_seed(0)
    netg, netd = Generator(cfg.net).state_dict(), Discriminator(cfg.net).state_dict()
    if fill is not None:
        key = next(k for k, v in netg.items() if v.is_floating_point())
        netg[key] = torch.full_like(netg[key], fill)
    torch.save({"netG": netg, "netD": netd, "best_hmean": 0.7}, path)
    return path


class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo pwned > pwned.txt",))


def _good_checkpoint_cached(ws: Workspace) -> None:
    good = _checkpoint(ws.tmp / "good.pth", SMALL_NET)
    copy_checkpoint(good, require_published("fan22"))
    good.unlink()


def wrong_architecture(ws: Workspace) -> None:
    _good_checkpoint_cached(ws)
    _checkpoint(ws.tmp / "wrong.pth", [*SMALL_NET, "net.ndf=16"])


def pickle_bomb(ws: Workspace) -> None:
    _good_checkpoint_cached(ws)
    torch.save({"netG": {}, "netD": {}, "x": _Payload()}, ws.tmp / "evil.pth")


def nan_weights(ws: Workspace) -> None:
    _good_checkpoint_cached(ws)
    _checkpoint(ws.tmp / "nan.pth", SMALL_NET, fill=float("nan"))


def _use_hub(hub: FakeHub) -> None:
    settings = {"seafile_url": hub.url, "seafile_token": SHARE_TOKEN, "zenodo_url": hub.url}
    for key, value in {**settings, "retries": "0", "timeout": "5"}.items():
        save_setting(f"hub.{key}", value)


def share_serves_wrong_architecture(ws: Workspace) -> None:
    _good_checkpoint_cached(ws)
    hub = ws.fixture("fake_hub")
    hub.share["/dcase22/fan.pth"] = _checkpoint(ws.tmp / "x.pth", ["net.ndf=8"]).read_bytes()
    (ws.tmp / "x.pth").unlink()
    _use_hub(hub)


def zenodo_serves_zip_bomb(ws: Workspace) -> None:
    hub = ws.fixture("fake_hub")
    wav = "dev_data/fan/train/section_00_source_train_normal_0000_a.wav"
    with zipfile.ZipFile(ws.tmp / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(wav, bytes(64 << 20))
    hub.zenodo[6355122] = ZenodoRecord({"dev_fan.zip": (ws.tmp / "bomb.zip").read_bytes()})
    (ws.tmp / "bomb.zip").unlink()
    _use_hub(hub)


def _wav(path: Path, samples: np.ndarray) -> None:
    sf.write(str(path), samples.astype(np.float32), 16000, subtype="FLOAT")


def nan_wav(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    _wav(ws.tmp / "nan.wav", np.r_[np.zeros(16000), np.nan, np.zeros(47999)])


def silent_wav(ws: Workspace) -> None:
    ws.fixture("installed_bundle")
    _wav(ws.tmp / "silence.wav", np.zeros(64000))


def _bad_bundle(ws: Workspace, fill: float | None = None, scaler: dict | None = None) -> None:
    paths.models_dir().mkdir(parents=True, exist_ok=True)
    rewrite_bundle(
        ws.fixture("small_bundle"), paths.models_dir() / "fan-bad.safetensors", fill, scaler
    )
    _wav(ws.tmp / "tone.wav", 0.1 * np.sin(np.arange(64000) / 5.0))


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


# ---------------------------------------------------------------- the cases

FROM = ["fetch", "fan22", *SET_SMALL, "--from"]
SCORE = ["score", "--json", "--gpu", "cpu", "--fail-on-anomaly", "--model"]
RESUME = ["train", "fan", "--year", "22", "--name", "myrun", "--resume", "--gpu", "cpu"]

CASES = [
    Case("import of a wrong architecture", [*FROM, "{tmp}/wrong.pth"], 1,
         r"generator does not fit the fan \(DCASE 2022\) network", wrong_architecture),
    Case("import of a pickle bomb", [*FROM, "{tmp}/evil.pth"], 1,
         r"ws/evil\.pth is not a readable PyTorch checkpoint: .*refuses to unpickle .* "
         r"arbitrary code", pickle_bomb),
    Case("import of NaN weights", [*FROM, "{tmp}/nan.pth"], 1,
         r"ws/nan\.pth has non-finite weights \(NaN or infinity\) in the generator's",
         nan_weights),
    Case("download of a wrong architecture", ["fetch", "fan22", "--force", *SET_SMALL], 1,
         r"does not fit the fan \(DCASE 2022\) network", share_serves_wrong_architecture),
    Case("zip bomb", ["fetch", "--data", "fan", "--split", "dev", "-d", "{tmp}/data"], 1,
         r"Refusing to extract dev_fan\.zip: it unpacks .* times its size \(the limit is 20\)",
         zenodo_serves_zip_bomb, unchanged=("tmp",)),
    Case("wav with NaN samples", [*SCORE, "fan-small", "{tmp}/nan.wav"], 1,
         r"nan\.wav is unusable: its samples include NaN or infinity", nan_wav),
    Case("wav of digital silence", [*SCORE, "fan-small", "{tmp}/silence.wav"], 1,
         r"silence\.wav is unusable: it is digital silence", silent_wav),
    Case("bundle with NaN weights", [*SCORE, "fan-bad", "{tmp}/tone.wav"], 1,
         r"fan-bad\.safetensors: its tensor netG\.\S+ holds NaN or infinity",
         lambda ws: _bad_bundle(ws, fill=float("nan"))),
    Case("bundle with a flat scaler", [*SCORE, "fan-bad", "{tmp}/tone.wav"], 1,
         r"fan-bad\.safetensors: its scaler is degenerate \(max 3, min 3",
         lambda ws: _bad_bundle(ws, scaler={"max": 3.0, "min": 3.0})),
    Case("resume from a foreign checkpoint.pt", RESUME, 1,
         r"checkpoint\.pt is not an aegan training checkpoint",
         foreign_run_checkpoint({"netG": {}, "netD": {}})),
    Case("resume from a pickled checkpoint.pt", RESUME, 1,
         r"Cannot read the training checkpoint .*checkpoint\.pt: .*refuses to unpickle",
         foreign_run_checkpoint({"x": _Payload()})),
    Case("NaN top_db makes NaN features",
         ["prepare", "fan", "-d", "{data}", *SET_SMALL, "--set", "feat.top_db=nan"], 1,
         r"features computed from \S+ onward are not finite .* nothing was cached",
         synthetic_data),
    Case("report over an existing file", ["report", "-f", "markdown", "-o", "{tmp}/report.md"],
         2, r"report\.md already exists; the report was not written", existing_report),
]  # fmt: skip


# ---------------------------------------------------------------- the runner


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and its SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_gives_one_clear_message(
    case: Case, runner, aegan_home: Path, tmp_path: Path, request, monkeypatch
) -> None:
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
