"""Corpus cases: a malformed bundle in the models folder, a bundle whose saved config the
current rules refuse, and what the operating system refuses."""

from __future__ import annotations

import errno
import json
from pathlib import Path

from safetensors import safe_open

from tests.robustness.corpus import Case, Workspace, bundle_with_header, corpus_test

VERSION_ABC = bundle_with_header(version="abc")
CONFIG_LIST = bundle_with_header(config="[1, 2]")
SCALER_LIST = bundle_with_header(scaler="[3, 1]")
SKIPPED = r"Note: Skipped \S+fan-bad\.safetensors: it is not a readable aegan model bundle"
TEST = ["test", "fan", "--year", "22", "-d", "{data}", "--gpu", "cpu", "-o", "{tmp}/out"]
SCORE = ["score", "--gpu", "cpu", "--model", "fan-bad", "{tmp}/tone.wav"]


def _saved_config(ws: Workspace, **changes: object) -> dict:
    with safe_open(str(ws.fixture("small_bundle")), framework="pt") as fh:
        config = json.loads(fh.metadata()["config"])
    config["train"].update(changes)
    return config


def bundle_config_out_of_range(ws: Workspace) -> None:
    seed = 99999999999999999999
    bundle_with_header(config=json.dumps(_saved_config(ws, seed=seed)))(ws)


def unwritable_config_folder(ws: Workspace) -> None:
    """The OS refuses to create a folder (tests run as root, so chmod would not do)."""

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    ws.fixture("monkeypatch").setattr(Path, "mkdir", mkdir)


CASES = [
    Case("bundle version abc in the models folder: models", ["models"], 0, SKIPPED, VERSION_ABC),
    Case("bundle config a JSON list in the models folder: models", ["models"], 0, SKIPPED,
         CONFIG_LIST),
    Case("bundle version abc in the models folder: fetch --list",
         ["fetch", "--list", "--year", "22"], 0, SKIPPED, VERSION_ABC),
    Case("bundle version abc: test without --model uses the good one", TEST, 0,
         r"fan-small", VERSION_ABC, unchanged=()),
    Case("bundle config a JSON list: test without --model uses the good one", TEST, 0,
         r"fan-small", CONFIG_LIST, unchanged=()),
    Case("bundle scaler a JSON list", SCORE, 1,
         r"Cannot load the model bundle \S+fan-bad\.safetensors: missing or invalid entry "
         r"'scaler': a JSON object was expected, not list", SCALER_LIST),
    Case("bundle version abc, named", SCORE, 1,
         r"Cannot load the model bundle \S+fan-bad\.safetensors: its version 'abc' is not a "
         r"version number", VERSION_ABC),
    Case("bundle config out of range", SCORE, 1,
         r"fan-bad\.safetensors: its config is invalid \(Config key 'train\.seed' must be in "
         r"\[0, 4294967295\]; got 99999999999999999999\)", bundle_config_out_of_range),
    Case("permission denied", ["config", "set", "device", "cpu"], 1,
         r"Error: Permission denied \(\S+config\)\. Check the permissions of \S+config and of "
         r"its folder, or choose another place", unwritable_config_folder),
]  # fmt: skip

test_cases = corpus_test(CASES)
