"""`aegan models` in a narrow terminal: the name column, the one users copy, is never cut."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aegan.bundles import registry
from aegan.cli import app


@pytest.mark.parametrize("columns", [80, 100])
def test_every_name_is_shown_whole_on_one_line(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines)
    first_cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    names = [cell for cell in first_cells if cell]
    assert names == [model.name for model in registry.PUBLISHED]
    assert "…" not in result.stdout  # no cell of another column is cut either


def test_columns_are_left_out_before_any_is_cut_and_the_output_says_which(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    narrow = CliRunner().invoke(app, ["models"]).stdout
    monkeypatch.setenv("COLUMNS", "200")
    wide = CliRunner().invoke(app, ["models"]).stdout
    assert "Left out" not in wide and "published" in wide.splitlines()[2]
    note = next(line for line in narrow.splitlines() if line.startswith("Left out"))
    assert "source" in note and "--json" in note
    header = narrow.splitlines()[2]
    assert "source" not in header and "name" in header and "state" in header
