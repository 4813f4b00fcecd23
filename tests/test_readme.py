"""The README's Files list names every folder aegan writes under its cache, by its real name."""

from __future__ import annotations

import re
from pathlib import Path

from aegan.training import runs

ROOT = Path(__file__).resolve().parents[1]


def files_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Files\n", 1)[1]
    return section.split("```", 2)[1]


def cache_folders() -> set[str]:
    """Every ``cache_dir() / "name"`` in the package: the folders aegan makes in its cache."""
    pattern = re.compile(r'cache_dir\(\)\s*/\s*"([\w.-]+)"')
    return {
        name
        for module in (ROOT / "aegan").rglob("*.py")
        for name in pattern.findall(module.read_text(encoding="utf-8"))
    }


def test_every_cache_folder_is_listed():
    listed = set(re.findall(r"^cache/([\w.-]+)/", files_block(), flags=re.MULTILINE))
    assert cache_folders() - listed == set()
    assert {"demo", "localize", "runs", "features"} <= listed


def test_the_run_folder_files_are_named_as_written():
    runs_line = next(line for line in files_block().splitlines() if line.startswith("cache/runs/"))
    assert runs.HISTORY in runs_line and "log.jsonl" not in runs_line
