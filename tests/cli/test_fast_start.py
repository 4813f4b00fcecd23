"""Commands that find their work done answer without importing torch (start-up in seconds).

Each command runs in a fresh interpreter, as a user runs it; the test asserts what
was imported, not how long it took (timing is benchmarks/startup.py's job).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from aegan.bundles.format import read_bundle
from aegan.bundles.header import describe_bundle
from tests.conftest import rewrite_bundle, write_tone

HEAVY = ("torch", "torchaudio", "scipy", "sklearn", "matplotlib")

# Runs the command line in this interpreter, then reports the exit code and heavy imports.
RUN_CLI = textwrap.dedent(
    """
    import json, sys
    from aegan.cli import app
    try:
        app(sys.argv[1:], prog_name="aegan")
        code = 0
    except SystemExit as exc:
        code = exc.code
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
    """
).replace("HEAVY", repr(HEAVY))


def run_cli(*argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    return {**json.loads(done.stderr.splitlines()[-1]), "stdout": done.stdout}


@pytest.fixture
def tree(tmp_path):
    for i in range(2):
        write_tone(tmp_path / f"dev_data/fan/train/section_00_source_train_normal_{i:04d}_a.wav")
    return tmp_path


SMALL = [
    word
    for key in ("net.isize", "feat.n_mels", "feat.segment_frames")
    for word in ("--set", f"{key}=32")
]
PREPARE = ["prepare", "fan", "--year", "22", "--train-set", "dev", *SMALL]


def test_a_cached_prepare_imports_no_torch(tree):
    first = run_cli(*PREPARE, "--data-dir", str(tree))
    assert first["code"] == 0, first
    assert "torch" not in first["heavy"]  # computing at 16 kHz needs scipy's FFT only
    again = run_cli(*PREPARE, "--data-dir", str(tree))
    assert again["code"] == 0 and "cached" in again["stdout"]
    assert again["heavy"] == []


def test_help_imports_nothing_heavy():
    result = run_cli("--help")
    assert result["code"] == 0 and result["heavy"] == []


def test_models_lists_bundles_without_torch(installed_bundle):
    result = run_cli("models", "--json")
    assert result["code"] == 0
    assert [e["name"] for e in json.loads(result["stdout"]) if e["state"] == "ready"]
    assert result["heavy"] == []


def test_bundle_metadata_describes_the_bundle_the_full_reader_loads(installed_bundle, tmp_path):
    listed, loaded = describe_bundle(installed_bundle), read_bundle(installed_bundle)
    assert (listed.year, listed.machine, listed.score) == (
        loaded.cfg.year, loaded.cfg.machine, loaded.cfg.detect.score,
    )  # fmt: skip
    foreign = tmp_path / "foreign.safetensors"
    rewrite_bundle(installed_bundle, foreign)
    text = foreign.read_bytes().replace(b'"aegan-bundle"', b'"other-format"')
    foreign.write_bytes(text)
    assert describe_bundle(foreign) is None
    assert describe_bundle(tmp_path / "missing.safetensors") is None
