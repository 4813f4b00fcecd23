"""`aegan report` gives every edition its own table, with the edition's own figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aegan.dcase.metrics import evaluate
from aegan.paths import RESULTS_FILE
from aegan.results.report import collect
from aegan.results.tables import columns, table_cells, table_note
from tests.conftest import labelled_test_clip


def write_result(folder: Path, year: int, machine: str, section: str) -> None:
    rng = np.random.default_rng(year)
    clips = [
        labelled_test_clip(year, machine, section, i, domain, int(label == "anomaly"))
        for i, (domain, label) in enumerate(
            [(d, lab) for d in ("source", "target") for lab in ("normal", "anomaly")] * 3
        )
    ]
    scores = rng.random((len(clips), 1)) + np.array([[c.label] for c in clips]) * 0.5
    evaluation = evaluate(clips, scores, names=("D_lof",))
    record = {
        "year": year, "machine": machine, "subset": "dev", "model": f"{machine}{year % 100}",
        "created": "2026-12-03T00:00:00", "chosen_score": "D_lof",
        "evaluation": evaluation.to_dict(),
    }  # fmt: skip
    path = folder / f"{machine}{year}" / "dev" / RESULTS_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record), encoding="utf-8")


def test_each_edition_has_its_own_table_and_figures(tmp_path: Path) -> None:
    write_result(tmp_path, 2021, "pump", "00")
    write_result(tmp_path, 2024, "fan", "00")
    write_result(tmp_path, 2025, "valve", "00")
    report = collect(tmp_path)
    assert [(t.year, t.subset) for t in report.tables] == [
        (2021, "dev"), (2024, "dev"), (2025, "dev"),
    ]  # fmt: skip
    by_year = {t.year: t for t in report.tables}
    assert [h for _, h in columns(by_year[2021])][1:6] == [
        "AUC src", "pAUC src", "AUC tgt", "pAUC tgt", "hmean",
    ]  # fmt: skip
    assert [h for _, h in columns(by_year[2024])][1:5] == ["AUC src", "AUC tgt", "pAUC", "hmean"]
    assert "sections and domains" in table_note(by_year[2021])
    _, body = table_cells(by_year[2024])
    assert body[0][0] == "fan" and body[-1][0] == "mean"
    official = by_year[2024].rows[0].official
    assert by_year[2024].mean.figures["hmean"] == pytest.approx(official)
