import os
import subprocess
import sys
from pathlib import Path

import pytest

from aegan.cli.completion import SHELLS, completion_script

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_shipped_completion_scripts_are_current(shell):
    shipped = (COMPLETIONS / SHELLS[shell]).read_text(encoding="utf-8")
    assert shipped == completion_script(shell).rstrip("\n") + "\n", (
        "completions/ is stale: run `python -m aegan.cli.completion completions`"
    )


def _complete(words: str) -> list[str]:
    env = dict(
        os.environ,
        COMP_WORDS=words,
        COMP_CWORD=str(len(words.split()) - 1),
        _AEGAN_COMPLETE="complete_bash",
    )
    out = subprocess.run(
        [sys.executable, "-m", "aegan"], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_bash_completion_offers_commands_and_machine_names():
    assert "prepare" in _complete("aegan pre")
    assert _complete("aegan prepare --year 20 Toy") == ["ToyCar", "ToyConveyor"]


def test_the_command_line_starts_without_loading_torch_or_sklearn():
    """Completion and --help run on every keystroke or call: they must start fast."""
    code = (
        "import sys, aegan.cli; print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
