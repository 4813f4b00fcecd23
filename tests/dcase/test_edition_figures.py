"""Each edition's official figures on hand-made scores, against the official evaluators'
definitions (y-kawagu/dcase2021_task2_evaluator, nttcslab/dcase2023_task2_evaluator and
dcase2024_task2_evaluator), and the submission files as those evaluators read them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

from aegan.dcase.clips import Clip
from aegan.dcase.metrics import GROUP_COLUMNS, OFFICIAL_FIGURE, evaluate
from aegan.dcase.submission import write_submission
from tests.conftest import labelled_test_clip

# (domain, label, score) of one section's test clips. The source anomaly 0.25 scores
# below every target normal: it counts against AUC (target) where anomalies are shared
# between domains (2022 on), and not at all in 2021, where each domain stands alone.
SECTION = [
    ("source", 0, 0.1), ("source", 0, 0.2), ("source", 0, 0.3),
    ("source", 1, 0.5), ("source", 1, 0.25),
    ("target", 0, 0.4), ("target", 0, 0.6),
    ("target", 1, 0.7),
]  # fmt: skip


def clips(year: int, machine: str, section: str) -> tuple[list[Clip], np.ndarray]:
    made = [
        labelled_test_clip(year, machine, section, i, domain, label)
        for i, (domain, label, _) in enumerate(SECTION)
    ]
    return made, np.array([[score] for _, _, score in SECTION])


def arrays(domain: str | None = None, shared: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rows = [
        (label, score)
        for d, label, score in SECTION
        if domain is None or d == domain or (shared and label == 1)
    ]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


@pytest.mark.parametrize("year", [2023, 2024, 2025, 2026])
def test_first_shot_figures_follow_the_2023_and_2024_evaluators(year: int) -> None:
    made, scores = clips(year, "fan", "00")
    figures = evaluate(made, scores, names=("s",)).scores["s"]
    (group,) = figures.groups
    # By hand: source normals {.1,.2,.3} against every anomaly {.5,.25,.7}: 8 of 9 pairs.
    assert group.auc_source == pytest.approx(8 / 9)
    # Target normals {.4,.6} against every anomaly {.5,.25,.7}: 3 of 6 pairs.
    assert group.auc_target == pytest.approx(3 / 6)
    labels, values = arrays()
    pauc = roc_auc_score(labels, values, max_fpr=0.1)  # the evaluators' pAUC: whole section
    assert group.pauc == pytest.approx(pauc)
    assert figures.official == pytest.approx(hmean([8 / 9, 3 / 6, pauc]))
    assert OFFICIAL_FIGURE[year] == "hmean"
    assert [key for key, _ in GROUP_COLUMNS[year]] == ["auc_source", "auc_target", "pauc"]


def test_2021_figures_keep_each_domain_on_its_own_clips() -> None:
    made, scores = clips(2021, "fan", "03")
    figures = evaluate(made, scores, names=("s",)).scores["s"]
    (group,) = figures.groups
    # Target normals {.4,.6} against the target anomaly {.7} only: 2 of 2 pairs; the
    # source anomaly 0.25 that halves the 2023 AUC (target) is not in the target domain.
    assert group.auc_target == pytest.approx(1.0)
    assert group.auc_source == pytest.approx(5 / 6)  # {.1,.2,.3} against {.5,.25}
    expected = []
    for domain in ("source", "target"):
        labels, values = arrays(domain)
        auc, pauc = roc_auc_score(labels, values), roc_auc_score(labels, values, max_fpr=0.1)
        assert getattr(group, f"pauc_{domain}") == pytest.approx(pauc)
        expected += [auc, pauc]
    # official score: hmean over sections and domains of AUC and pAUC, floored at epsilon
    assert figures.official == pytest.approx(hmean(np.maximum(expected, np.finfo(float).eps)))
    assert set(figures.summary) == {
        "auc_source",
        "pauc_source",
        "auc_target",
        "pauc_target",
        "hmean",
    }


def test_a_domain_without_anomalies_is_undefined_in_2021_but_not_from_2022_on() -> None:
    kept = [i for i, (d, label, _) in enumerate(SECTION) if not (d == "target" and label)]
    for year, defined in ((2021, False), (2024, True)):
        made, scores = clips(year, "fan", "00")
        figures = evaluate([made[i] for i in kept], scores[kept], names=("s",)).scores["s"]
        (group,) = figures.groups
        assert math.isnan(group.auc_target) != defined
        assert not math.isnan(figures.official)  # the defined figures still rank the score
    assert group.auc_target == pytest.approx(1 / 4)  # 2024: {.4,.6} against {.5,.25}


def test_submission_files_are_named_as_each_evaluator_reads_them(tmp_path: Path) -> None:
    made, scores = clips(2021, "pump", "03")
    written = write_submission(tmp_path / "21", 2021, "pump", made, scores[:, 0], [0] * len(made))
    assert sorted(p.name for p in written) == [
        "anomaly_score_pump_section_03_source_test.csv",
        "anomaly_score_pump_section_03_target_test.csv",
        "decision_result_pump_section_03_source_test.csv",
        "decision_result_pump_section_03_target_test.csv",
    ]
    source = (tmp_path / "21/anomaly_score_pump_section_03_source_test.csv").read_text()
    assert len(source.splitlines()) == 5 and "target" not in source
    made, scores = clips(2024, "ToothBrush", "00")
    written = write_submission(tmp_path / "24", 2024, "ToothBrush", made, scores[:, 0], [1] * 8)
    assert sorted(p.name for p in written) == [
        "anomaly_score_ToothBrush_section_00_test.csv",
        "decision_result_ToothBrush_section_00_test.csv",
    ]
