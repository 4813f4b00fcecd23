"""DCASE figures of merit, submission files (aegan.dcase.metrics) and eval ground truth."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

from aegan.config.settings import HubSettings
from aegan.dcase.clips import Clip
from aegan.dcase.evaluation import Evaluation
from aegan.dcase.ground_truth import read_ground_truth, with_ground_truth
from aegan.dcase.metrics import FLOAT32_MAX, evaluate
from aegan.dcase.submission import write_submission
from aegan.errors import DataError, UsageError
from aegan.hub.zenodo import ground_truth_sources
from aegan.score_names import SCORE_NAMES

EPS = sys.float_info.epsilon

# The library stays quiet: undefined figures are NaN, never a warning.
pytestmark = pytest.mark.filterwarnings("error")


def make_clip(
    year: int,
    group: str,
    index: int,
    label: int | None,
    domain: str | None = None,
    subset: str = "dev",
) -> Clip:
    if label is None:
        name = f"section_{group}_{index:04d}.wav" if year == 2022 else f"id_{group}_{index:08d}.wav"
    elif year == 2022:
        kind = "anomaly" if label else "normal"
        name = f"section_{group}_{domain}_test_{kind}_{index:04d}.wav"
    else:
        name = f"{'anomaly' if label else 'normal'}_id_{group}_{index:08d}.wav"
    return Clip(
        path=Path("/data", f"{subset}_data", "fan", "test", name),
        year=year,
        machine="fan",
        subset=subset,
        split="test",
        group=group,
        index=f"{index:04d}",
        domain=domain,
        label=label,
    )


def clips_2022(spec: list[tuple[str, str, int]]) -> list[Clip]:
    """Clips from (section, domain, label) triples."""
    return [make_clip(2022, g, i, label, domain) for i, (g, domain, label) in enumerate(spec)]


# ---------------------------------------------------------------- reference implementations


def reference_2020(labels, groups, column):
    """The original dcase20 code's figures, written plainly."""
    result = []
    for group in sorted(set(groups)):
        y = [lab for lab, g in zip(labels, groups, strict=True) if g == group]
        s = [v for v, g in zip(column, groups, strict=True) if g == group]
        result.append([roc_auc_score(y, s), roc_auc_score(y, s, max_fpr=0.1)])
    auc, pauc = np.mean(result, axis=0)
    return result, {"auc": auc, "pauc": pauc, "average": np.mean([auc, pauc])}


def reference_2022(labels, domains, groups, column):
    """The original dcase22 code / official evaluator's figures, written plainly."""
    result = []
    for group in sorted(set(groups)):
        rows = [
            (lab, d, v)
            for lab, d, v, g in zip(labels, domains, column, groups, strict=True)
            if g == group
        ]
        src = [(lab, v) for lab, d, v in rows if d == "source" or lab == 1]
        tgt = [(lab, v) for lab, d, v in rows if d == "target" or lab == 1]
        result.append(
            [
                roc_auc_score(*zip(*src, strict=True)),
                roc_auc_score(*zip(*tgt, strict=True)),
                roc_auc_score([r[0] for r in rows], [r[2] for r in rows], max_fpr=0.1),
            ]
        )
    floored = np.maximum(np.array(result), EPS)
    per_column = hmean(floored, axis=0)
    summary = dict(zip(("auc_source", "auc_target", "pauc"), per_column, strict=True))
    summary["hmean"] = hmean(floored, axis=None)
    return result, summary


# ---------------------------------------------------------------- figures


def test_2020_figures_match_sklearn_per_id_with_ties():
    labels = [0, 0, 0, 1, 1, 0, 0, 1, 1, 1]
    groups = ["00"] * 5 + ["02"] * 5
    column = np.array([0.1, 0.5, 0.5, 0.5, 0.9, 2.0, 2.0, 2.0, 1.0, 3.0])
    clips = [
        make_clip(2020, g, i, lab) for i, (g, lab) in enumerate(zip(groups, labels, strict=True))
    ]
    ev = evaluate(clips, column[:, None], names=["D_lof"])
    figures = ev.scores["D_lof"]
    expected_groups, expected_summary = reference_2020(labels, groups, column)
    for group, (auc, pauc) in zip(figures.groups, expected_groups, strict=True):
        assert (group.auc, group.pauc) == (auc, pauc)
        assert group.auc_source is None and group.auc_target is None
    assert [g.group for g in figures.groups] == ["00", "02"]
    assert [g.n_clips for g in figures.groups] == [5, 5]
    assert figures.summary == pytest.approx(expected_summary, rel=1e-12)
    assert figures.official == figures.summary["average"]
    assert (ev.year, ev.machine, ev.subset, ev.best) == (2020, "fan", "dev", "D_lof")


def test_2022_figures_use_domain_sets_and_a_section_without_target_anomalies():
    spec = [
        ("00", "source", 0), ("00", "source", 0), ("00", "source", 1), ("00", "target", 0),
        ("00", "target", 1), ("00", "target", 1),
        # section 01 has no target-domain anomalies: AUC_source covers its source clips only
        ("01", "source", 0), ("01", "source", 1), ("01", "source", 1), ("01", "target", 0),
        ("01", "target", 0),
    ]  # fmt: skip
    column = np.array([0.2, 0.4, 0.3, 0.9, 0.8, 0.95, 0.1, 0.7, 0.7, 0.6, 0.05])
    ev = evaluate(clips_2022(spec), column[:, None], names=["G_z_1_sum"])
    section01 = ev.scores["G_z_1_sum"].groups[1]
    assert section01.auc_source == roc_auc_score([0, 1, 1], [0.1, 0.7, 0.7])
    assert section01.auc_target == roc_auc_score([1, 1, 0, 0], [0.7, 0.7, 0.6, 0.05])
    assert section01.pauc == roc_auc_score([0, 1, 1, 0, 0], column[6:], max_fpr=0.1)
    assert section01.auc == roc_auc_score([0, 1, 1, 0, 0], column[6:])
    labels, domains, groups = ([s[i] for s in spec] for i in (2, 1, 0))
    expected_groups, expected_summary = reference_2022(labels, domains, groups, column)
    got = [[g.auc_source, g.auc_target, g.pauc] for g in ev.scores["G_z_1_sum"].groups]
    assert got == expected_groups
    assert ev.scores["G_z_1_sum"].summary == pytest.approx(expected_summary, rel=1e-12)
    assert ev.scores["G_z_1_sum"].official == ev.scores["G_z_1_sum"].summary["hmean"]


def test_hmean_floors_a_zero_auc_at_machine_epsilon():
    spec = [("00", "source", 0), ("00", "source", 1), ("00", "target", 0), ("00", "target", 1)]
    column = np.array([1.0, 0.0, 1.0, 0.0])  # every anomaly scores lowest: both AUCs are 0
    figures = evaluate(clips_2022(spec), column[:, None], names=["D_knn"]).scores["D_knn"]
    group = figures.groups[0]
    assert (group.auc_source, group.auc_target) == (0.0, 0.0)
    expected = hmean([EPS, EPS, group.pauc])
    assert figures.official == pytest.approx(expected, rel=1e-12, abs=0)
    assert figures.summary["auc_source"] == pytest.approx(EPS, rel=1e-12, abs=0)


def test_nan_and_infinite_scores_rank_as_float32_max():
    labels = [0, 0, 1, 1, 0, 1]
    raw = np.array([0.1, np.nan, 0.3, np.inf, 0.2, -np.inf])
    clips = [make_clip(2020, "01", i, lab) for i, lab in enumerate(labels)]
    group = evaluate(clips, raw[:, None], names=["D_maha"]).scores["D_maha"].groups[0]
    ranked = [0.1, FLOAT32_MAX, 0.3, FLOAT32_MAX, 0.2, -FLOAT32_MAX]
    assert group.auc == roc_auc_score(labels, ranked)
    assert group.pauc == roc_auc_score(labels, ranked, max_fpr=0.1)


def test_a_one_class_group_is_nan_and_left_out_of_the_summary():
    labels = [0, 1, 0, 1, 0, 0, 0]  # ID 04 holds normal clips only
    groups = ["02", "02", "02", "02", "04", "04", "04"]
    column = np.array([0.1, 0.9, 0.4, 0.3, 0.5, 0.6, 0.7])
    clips = [
        make_clip(2020, g, i, lab) for i, (g, lab) in enumerate(zip(groups, labels, strict=True))
    ]
    figures = evaluate(clips, column[:, None], names=["D_cos"]).scores["D_cos"]
    assert math.isnan(figures.groups[1].auc) and math.isnan(figures.groups[1].pauc)
    assert figures.summary["auc"] == roc_auc_score(labels[:4], column[:4])
    assert figures.summary["pauc"] == roc_auc_score(labels[:4], column[:4], max_fpr=0.1)


def test_no_defined_figure_gives_nan_officials_and_no_best():
    clips = clips_2022([("00", "source", 0), ("00", "target", 0)])
    ev = evaluate(clips, np.ones((2, 2)), names=["D_lof", "D_knn"])
    assert all(math.isnan(f.official) for f in ev.scores.values())
    assert ev.best is None


def test_a_section_without_target_clips_leaves_only_auc_target_out_of_the_hmean():
    spec = [("00", "source", 0), ("00", "source", 1), ("00", "target", 0), ("00", "target", 1)]
    spec += [("01", "source", 0), ("01", "source", 1), ("01", "source", 0)]
    column = np.array([0.1, 0.8, 0.3, 0.2, 0.5, 0.55, 0.6])
    figures = evaluate(clips_2022(spec), column[:, None], names=["D_lof"]).scores["D_lof"]
    first, second = figures.groups
    assert math.isnan(second.auc_target) and not math.isnan(second.auc_source)
    defined = [first.auc_source, first.auc_target, first.pauc, second.auc_source, second.pauc]
    assert figures.official == pytest.approx(hmean(np.maximum(defined, EPS)), rel=1e-12)
    assert figures.summary["auc_target"] == first.auc_target


def test_all_19_scores_evaluate_at_once_and_the_best_is_the_highest():
    rng = np.random.default_rng(0)
    spec = [(g, d, lab) for g in ("00", "01", "02") for d in ("source", "target") for lab in (0, 1)]
    spec = spec * 5
    labels = np.array([s[2] for s in spec])
    matrix = rng.normal(size=(len(spec), 19)) + np.linspace(0, 3, 19)[None, :] * labels[:, None]
    ev = evaluate(clips_2022(spec), matrix)
    assert list(ev.scores) == list(SCORE_NAMES)
    officials = [ev.scores[name].official for name in SCORE_NAMES]
    assert ev.best == SCORE_NAMES[int(np.argmax(officials))]
    for column, name in enumerate(SCORE_NAMES):
        expected = reference_2022(
            labels, [s[1] for s in spec], [s[0] for s in spec], matrix[:, column]
        )
        assert ev.scores[name].summary == pytest.approx(expected[1], rel=1e-12)


def test_best_breaks_ties_by_score_names_order_whatever_the_column_order():
    clips = [make_clip(2020, "00", i, lab) for i, lab in enumerate([0, 1, 0, 1])]
    good = np.array([0.1, 0.9, 0.2, 0.3])
    worse = np.array([0.9, 0.1, 0.2, 0.3])
    matrix = np.stack([worse, good, good, good], axis=1)
    ev = evaluate(clips, matrix, names=["D_maha", "G_x_2_sum", "D_knn", "G_z_1_sum"])
    assert ev.best == "D_knn"  # of the three tied, D_knn comes first in SCORE_NAMES
    assert list(ev.scores) == ["D_maha", "G_x_2_sum", "D_knn", "G_z_1_sum"]


def test_unlabelled_clips_are_a_data_error():
    clips = [make_clip(2020, "05", 0, None), make_clip(2020, "05", 1, 1)]
    with pytest.raises(DataError, match="1 of 2 test clips have no label"):
        evaluate(clips, np.zeros((2, 1)), names=["D_lof"])


def test_a_score_matrix_of_the_wrong_shape_is_refused():
    clips = [make_clip(2020, "00", i, lab) for i, lab in enumerate([0, 1])]
    with pytest.raises(DataError, match="score matrix"):
        evaluate(clips, np.zeros((2, 3)), names=["D_lof", "D_knn"])


@st.composite
def labelled_sets(draw):
    """Random clips in which every group holds both classes in both domains, with tied scores."""
    n_groups = draw(st.integers(1, 3))
    spec = []
    for g in range(n_groups):
        spec += [(f"0{g}", d, lab) for d in ("source", "target") for lab in (0, 1)]
        extra = draw(st.lists(st.tuples(st.sampled_from(["source", "target"]), st.integers(0, 1))))
        spec += [(f"0{g}", d, lab) for d, lab in extra]
    values = st.integers(-3, 3).map(float) | st.just(float("nan"))
    column = draw(st.lists(values, min_size=len(spec), max_size=len(spec)))
    return spec, np.array(column)


@settings(max_examples=60, deadline=None)
@given(labelled_sets(), st.sampled_from([2020, 2022]))
def test_figures_match_a_plain_reference_implementation(data, year):
    spec, column = data
    labels, domains, groups = ([s[i] for s in spec] for i in (2, 1, 0))
    clips = [
        make_clip(year, g, i, lab, d if year == 2022 else None)
        for i, (g, d, lab) in enumerate(spec)
    ]
    figures = evaluate(clips, column[:, None], names=["G_z_cos_min"]).scores["G_z_cos_min"]
    cleaned = np.where(np.isnan(column), FLOAT32_MAX, column)
    if year == 2020:
        expected_groups, expected_summary = reference_2020(labels, groups, cleaned)
        got = [[g.auc, g.pauc] for g in figures.groups]
    else:
        expected_groups, expected_summary = reference_2022(labels, domains, groups, cleaned)
        got = [[g.auc_source, g.auc_target, g.pauc] for g in figures.groups]
    assert got == expected_groups
    assert figures.summary == pytest.approx(expected_summary, rel=1e-12)


def test_to_dict_from_dict_round_trips_through_strict_json():
    spec = [("00", "source", 0), ("00", "source", 1), ("00", "target", 0), ("00", "target", 1)]
    spec += [("01", "source", 0), ("01", "target", 0)]  # section 01: all figures undefined
    matrix = np.arange(12, dtype=float).reshape(6, 2)
    ev = evaluate(clips_2022(spec), matrix, names=["D_lof", "G_x_1_max"])
    text = json.dumps(ev.to_dict(), allow_nan=False)
    back = Evaluation.from_dict(json.loads(text))
    assert back.to_dict() == ev.to_dict()
    assert math.isnan(back.scores["D_lof"].groups[1].auc_source)
    assert back.scores["D_lof"].groups[0] == ev.scores["D_lof"].groups[0]
    clips20 = [make_clip(2020, "00", i, lab) for i, lab in enumerate([0, 1])]
    ev20 = evaluate(clips20, np.array([[0.0], [1.0]]), names=["D_lof"])
    assert Evaluation.from_dict(json.loads(json.dumps(ev20.to_dict()))) == ev20


def test_from_dict_reports_a_malformed_record():
    with pytest.raises(DataError, match="Not a valid aegan evaluation record"):
        Evaluation.from_dict({"year": 2022})


# ---------------------------------------------------------------- submission files


def read_rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()]


def test_2022_submission_files_are_sorted_headerless_and_paired_with_decisions(tmp_path):
    clips = [
        make_clip(2022, s, i, None, subset="eval") for s, i in [("04", 7), ("03", 2), ("03", 0)]
    ]
    written = write_submission(tmp_path, 2022, "ToyCar", clips, [1.5, np.nan, 0.25], [1, 0, 1])
    assert [p.name for p in written] == [
        "anomaly_score_ToyCar_section_03_test.csv",
        "decision_result_ToyCar_section_03_test.csv",
        "anomaly_score_ToyCar_section_04_test.csv",
        "decision_result_ToyCar_section_04_test.csv",
    ]
    assert read_rows(written[0]) == [
        ["section_03_0000.wav", "0.25"],
        ["section_03_0002.wav", repr(FLOAT32_MAX)],
    ]
    assert read_rows(written[1]) == [["section_03_0000.wav", "1"], ["section_03_0002.wav", "0"]]
    assert read_rows(written[2]) == [["section_04_0007.wav", "1.5"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_2020_submission_has_one_score_file_per_machine_id(tmp_path):
    clips = [
        make_clip(2020, g, i, None, subset="eval") for g, i in [("05", 1), ("03", 9), ("05", 0)]
    ]
    written = write_submission(tmp_path, 2020, "fan", clips, np.array([0.5, 0.1, 1e-7]))
    assert [p.name for p in written] == [
        "anomaly_score_fan_id_03.csv",
        "anomaly_score_fan_id_05.csv",
    ]
    rows = read_rows(written[1])
    assert [r[0] for r in rows] == ["id_05_00000000.wav", "id_05_00000001.wav"]
    assert [float(r[1]) for r in rows] == [1e-7, 0.5]
    with pytest.raises(UsageError, match="no decision files"):
        write_submission(tmp_path, 2020, "fan", clips, [0.0] * 3, [0, 1, 0])


# ---------------------------------------------------------------- ground truth


def write_official_2022_truth(
    folder: Path, machine: str, rows: dict[str, list[tuple[str, int, int]]]
):
    """Ground truth files as in Kota-Dohi/dcase2022_evaluator: ``name,label`` / ``name,domain``."""
    for section in ("03", "04", "05"):
        for kind, column in (("ground_truth_data", 1), ("ground_truth_domain", 2)):
            path = folder / kind / f"ground_truth_{machine}_section_{section}_test.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{r[0]},{r[column]}\n" for r in rows.get(section, [])))


def test_2022_ground_truth_fills_labels_and_domains_and_matches_the_evaluator(tmp_path):
    truth_rows = {
        "03": [("section_03_0000.wav", 0, 0), ("section_03_0001.wav", 1, 1)],
        "04": [("section_04_0000.wav", 1, 0), ("section_04_0001.wav", 0, 1)],
        "05": [("section_05_0000.wav", 0, 1)],
    }
    write_official_2022_truth(tmp_path / "gt", "valve", truth_rows)
    truth = read_ground_truth(tmp_path / "gt", 2022, "valve")
    assert truth["section_03_0001.wav"] == (1, "target")
    assert truth["section_04_0000.wav"] == (1, "source")
    assert len(truth) == 5
    clips = [make_clip(2022, name[8:10], int(name[11:15]), None, subset="eval") for name in truth]
    filled = with_ground_truth(clips, truth)
    assert [(c.label, c.domain) for c in filled] == list(truth.values())
    assert [c.name for c in filled] == [c.name for c in clips]


def test_2022_ground_truth_missing_file_names_the_file_and_folder(tmp_path):
    write_official_2022_truth(tmp_path, "fan", {"03": [("section_03_0000.wav", 0, 0)]})
    (tmp_path / "ground_truth_domain" / "ground_truth_fan_section_04_test.csv").unlink()
    sources = ground_truth_sources(2022, "fan", HubSettings())
    with pytest.raises(DataError) as error:
        read_ground_truth(tmp_path, 2022, "fan", sources)
    assert "ground_truth_domain/ground_truth_fan_section_04_test.csv" in str(error.value)
    assert str(tmp_path) in str(error.value)
    assert "raw.githubusercontent.com/Kota-Dohi/dcase2022_evaluator/main/" in str(error.value)
    with pytest.raises(DataError, match="aegan fetch --data fan --year 22 --split eval"):
        read_ground_truth(tmp_path, 2022, "fan")


def test_2022_ground_truth_with_a_bad_label_is_a_data_error(tmp_path):
    write_official_2022_truth(tmp_path, "fan", {"03": [("section_03_0000.wav", 2, 0)]})
    with pytest.raises(DataError, match="malformed row"):
        read_ground_truth(tmp_path, 2022, "fan")


def test_2022_label_and_domain_files_must_list_the_same_clips(tmp_path):
    write_official_2022_truth(tmp_path, "fan", {"05": [("section_05_0000.wav", 0, 1)]})
    (tmp_path / "ground_truth_domain" / "ground_truth_fan_section_05_test.csv").write_text(
        "section_05_0001.wav,1\n"
    )
    with pytest.raises(DataError, match=r"section 05 .* list different files"):
        read_ground_truth(tmp_path, 2022, "fan")


def test_2020_ground_truth_row_without_a_label_is_a_data_error(tmp_path):
    (tmp_path / "eval_data_list.csv").write_text("pump\nid_01_00000000.wav,normal_id_01_0.wav\n")
    with pytest.raises(DataError, match="malformed row"):
        read_ground_truth(tmp_path, 2020, "pump")


def test_2020_ground_truth_reads_only_the_requested_machine_block(tmp_path):
    (tmp_path / "eval_data_list.csv").write_text(
        "fan\n"
        "id_01_00000000.wav,normal_id_01_00000098.wav,0\n"
        "id_01_00000001.wav,anomaly_id_01_00000064.wav,1\n"
        "ToyCar\n"
        "id_01_00000000.wav,anomaly_id_01_00000003.wav,1\n"
    )
    assert read_ground_truth(tmp_path, 2020, "fan") == {
        "id_01_00000000.wav": (0, None),
        "id_01_00000001.wav": (1, None),
    }
    assert read_ground_truth(tmp_path, 2020, "ToyCar") == {"id_01_00000000.wav": (1, None)}
    with pytest.raises(DataError, match="no ground truth for pump"):
        read_ground_truth(tmp_path, 2020, "pump")


def test_clips_without_a_ground_truth_entry_are_named(tmp_path):
    clips = [make_clip(2020, "01", i, None, subset="eval") for i in range(3)]
    truth = {"id_01_00000000.wav": (0, None)}
    with pytest.raises(DataError) as error:
        with_ground_truth(clips, truth)
    message = str(error.value)
    assert "2 of 3 test clips" in message and "id_01_00000001.wav" in message
    assert str(clips[1].path.parent) in message


def test_submission_read_back_by_sorted_order_reproduces_the_figures(tmp_path):
    """The official 2022 evaluator pairs sorted submission rows with sorted ground-truth rows."""
    rng = np.random.default_rng(3)
    rows = {
        s: [(f"section_{s}_{i:04d}.wav", i % 2, (i // 2) % 2) for i in range(12)]
        for s in ("03", "04", "05")
    }
    write_official_2022_truth(tmp_path / "gt", "gearbox", rows)
    truth = read_ground_truth(tmp_path / "gt", 2022, "gearbox")
    names = list(truth)[::-1]  # clips in any order
    clips = with_ground_truth(
        [make_clip(2022, n[8:10], int(n[11:15]), None, subset="eval") for n in names], truth
    )
    scores = rng.normal(size=len(clips))
    ev = evaluate(clips, scores[:, None], names=["G_z_1_sum"])
    write_submission(tmp_path / "sub", 2022, "gearbox", clips, scores)
    for group in ev.scores["G_z_1_sum"].groups:
        stem = f"gearbox_section_{group.group}_test.csv"
        y_pred = np.array(
            [float(r[1]) for r in sorted(read_rows(tmp_path / "sub" / f"anomaly_score_{stem}"))]
        )
        y_true = np.array(
            [
                int(r[1])
                for r in sorted(
                    read_rows(tmp_path / "gt" / "ground_truth_data" / f"ground_truth_{stem}")
                )
            ]
        )
        y_domain = np.array(
            [
                int(r[1])
                for r in sorted(
                    read_rows(tmp_path / "gt" / "ground_truth_domain" / f"ground_truth_{stem}")
                )
            ]
        )
        source = (y_domain == 0) | (y_true != 0)
        assert group.auc_source == roc_auc_score(y_true[source], y_pred[source])
        assert group.pauc == roc_auc_score(y_true, y_pred, max_fpr=0.1)
    assert ev.subset == "eval"
