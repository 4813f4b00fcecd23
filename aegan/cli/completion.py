"""Shell completion scripts for bash, zsh and fish, generated from the Typer app.

The scripts call back into ``aegan`` for the candidates, so commands, options,
machine names and model names complete from the installed version. Regenerate
the files in ``completions/`` with ``python -m aegan.cli.completion completions``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer._completion_shared import get_completion_script

SHELLS = {"bash": "aegan.bash", "zsh": "_aegan", "fish": "aegan.fish"}


def completion_script(shell: str) -> str:
    return get_completion_script(prog_name="aegan", complete_var="_AEGAN_COMPLETE", shell=shell)


def write_completions(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in SHELLS.items():
        path = folder / name
        path.write_text(completion_script(shell).rstrip("\n") + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_completions(Path(sys.argv[1] if len(sys.argv) > 1 else "completions")):
        print(path)
