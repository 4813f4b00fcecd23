import base64
import copy
import csv
import io
import json
import re
import shutil

import pytest
import scipy.stats
from typer.testing import CliRunner

from aegan.cli import app
from tests.conftest import aegan_home_at

GEARBOX_SECTIONS = {  # (auc_source, auc_target, pauc) per section, fractions
    "00": (0.9, 0.6, 0.55),
    "01": (0.8, 0.7, 0.6),
    "02": (0.95, 0.5, 0.52),
}


def with_chosen_figures(data: dict, year: int, machine: str, model: str, groups: list) -> dict:
    """A copy of a results.json record for another machine whose chosen score has these groups."""
    record = copy.deepcopy(data)
    record.update(year=year, machine=machine, model=model)
    evaluation = record["evaluation"]
    evaluation.update(year=year, machine=machine)
    chosen = evaluation["scores"][record["chosen_score"]]
    chosen["groups"] = groups
    if year == 2022:
        values = [g[k] for g in groups for k in ("auc_source", "auc_target", "pauc")]
        summary = {
            k: float(scipy.stats.hmean([g[k] for g in groups]))
            for k in ("auc_source", "auc_target", "pauc")
        }
        summary["hmean"] = float(scipy.stats.hmean(values))
        chosen.update(summary=summary, official=summary["hmean"])
    return record


def results_2020(machine: str, model: str, chosen: str, auc: float, pauc: float) -> dict:
    """A 2020 results.json record as `aegan test` writes it (two scores, two machine IDs)."""

    def figures(a: float, p: float) -> dict:
        groups = [{"group": g, "n_clips": 10, "auc": a, "pauc": p} for g in ("00", "02")]
        summary = {"auc": a, "pauc": p, "average": (a + p) / 2}
        return {"official": summary["average"], "summary": summary, "groups": groups}

    other = "G_z_2_min" if chosen != "G_z_2_min" else "D_lof"
    scores = {chosen: figures(auc, pauc), other: figures(auc - 0.1, pauc - 0.1)}
    return {
        "model": model, "year": 2020, "machine": machine, "subset": "dev",
        "created": "2024-01-01T00:00:00+00:00", "chosen_score": chosen, "threshold": 1.0,
        "provenance": {}, "published": None,
        "evaluation": {
            "year": 2020, "machine": machine, "subset": "dev", "max_fpr": 0.1,
            "best": chosen, "scores": scores,
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def results_root(synth22, small_bundle, tmp_path_factory):
    """Results of `aegan test` (fan 2022) plus written ones: gearbox 2022, fan and pump 2020."""
    root = tmp_path_factory.mktemp("results")
    fan = root / "fan-small" / "dev"
    with aegan_home_at(tmp_path_factory.mktemp("home")):
        result = CliRunner().invoke(
            app,
            ["test", "fan", "-y", "22", "--model", str(small_bundle), "--data-dir", str(synth22),
             "-o", str(fan)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    shutil.copytree(fan, root.parent / f"{root.name}-synthetic" / "fan-small" / "dev")
    fan_record = json.loads((fan / "results.json").read_text())
    assert fan_record["synthetic_data"]
    fan_record["synthetic_data"] = False  # stand-in for a result on the real data set
    (fan / "results.json").write_text(json.dumps(fan_record))
    gearbox = root / "gearbox-small" / "dev"
    shutil.copytree(fan, gearbox)
    groups = [
        {"group": g, "n_clips": 12, "auc": 0.7, "auc_source": s, "auc_target": t, "pauc": p}
        for g, (s, t, p) in GEARBOX_SECTIONS.items()
    ]
    record = with_chosen_figures(fan_record, 2022, "gearbox", "gearbox-small", groups)
    (gearbox / "results.json").write_text(json.dumps(record))
    for machine, chosen, auc, pauc in (("fan", "D_lof", 0.9, 0.7), ("pump", "D_lof", 0.8, 0.6)):
        folder = root / f"{machine}20" / "dev"
        folder.mkdir(parents=True)
        record = results_2020(machine, f"{machine}20", chosen, auc, pauc)
        (folder / "results.json").write_text(json.dumps(record))
    return root


def report(*args: str):
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def markdown_tables(text: str) -> list[list[list[str]]]:
    """The tables a GitHub-flavoured Markdown parser finds in ``text``: rows of cell texts.

    markdown-it (rich's own Markdown parser) builds a table only from a header
    row, a valid separator row and rows of the same width; anything else stays
    a paragraph and is not returned.
    """
    from markdown_it import MarkdownIt

    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close":
            tables[-1].append(row)
            row = None
    return tables


def test_markdown_is_valid_github_tables_beside_the_published_figures(results_root):
    text = report("--format", "markdown", "--results", str(results_root))
    tables = markdown_tables(text)
    assert len(tables) == 2  # 2020 and 2022, both dev
    assert text.count("\n|") == sum(len(t) + 1 for t in tables)  # every table line is in one
    for table in tables:
        header, *body = table
        assert header[0] == "machine" and all(len(row) == len(header) for row in body)
        assert [row[0] for row in body][-1] == "mean"
    assert text.index("### DCASE 2020") < text.index("### DCASE 2022")
    t2020, t2022 = ({row[0]: dict(zip(t[0], row, strict=True)) for row in t[1:]} for t in tables)
    assert set(t2020) == {"fan", "pump", "mean"} and set(t2022) == {"fan", "gearbox", "mean"}
    fan20 = t2020["fan"]
    assert (fan20["average"], fan20["published average"], fan20["published score"]) == (
        "80.00", "77.01", "D_lof",
    )  # fmt: skip
    assert fan20["difference"] == "+2.99" and t2020["pump"]["difference"] == "-11.26"
    assert t2020["mean"]["average"] == "75.00"
    assert t2022["gearbox"]["published hmean"] == "75.27"
    assert t2022["gearbox"]["published score"] == "G_z_cos_min"


def test_2022_mean_is_the_harmonic_mean_over_all_sections(results_root):
    data = json.loads(report("--format", "json", "--results", str(results_root)))
    rows = {(r["year"], r["machine"]): r for r in data["results"]}
    fan = json.loads((results_root / "fan-small" / "dev" / "results.json").read_text())
    fan_groups = fan["evaluation"]["scores"][fan["chosen_score"]]["groups"]
    values = [g[k] for g in fan_groups for k in ("auc_source", "auc_target", "pauc")]
    values += [v for section in GEARBOX_SECTIONS.values() for v in section]
    assert rows[2022, "mean"]["hmean"] == round(100 * scipy.stats.hmean(values), 2)
    assert rows[2022, "mean"]["published_figure"] == round(scipy.stats.hmean([65.83, 75.27]), 2)
    assert rows[2020, "mean"]["published_figure"] == pytest.approx((77.01 + 81.26) / 2, abs=0.01)
    assert rows[2022, "gearbox"]["difference"] == pytest.approx(
        rows[2022, "gearbox"]["hmean"] - 75.27, abs=0.011
    )


def test_csv_and_json_parse_back(results_root):
    rows = list(csv.DictReader(io.StringIO(report("-f", "csv", "-r", str(results_root)))))
    assert [(r["year"], r["machine"]) for r in rows] == [
        ("2020", "fan"), ("2020", "pump"), ("2020", "mean"),
        ("2022", "fan"), ("2022", "gearbox"), ("2022", "mean"),
    ]  # fmt: skip
    assert rows[0]["average"] == "80.0" and rows[0]["hmean"] == ""
    assert rows[3]["published_score"] == "G_z_cos_min" and rows[3]["model"] == "fan-small"
    data = json.loads(report("-f", "json", "-r", str(results_root)))
    assert len(data["results"]) == 6 and data["skipped"] == []


def test_html_is_one_page_with_embedded_roc_curves(results_root, tmp_path):
    out = tmp_path / "report.html"
    report("--format", "html", "--results", str(results_root), "-o", str(out))
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2  # fan and gearbox 2022 have scores.csv; the written 2020 ones do not
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "no labelled scores.csv to draw" in page
    assert "http" not in page.replace("<!DOCTYPE html>", "")  # self-contained: nothing to fetch


def test_an_existing_out_file_is_kept_unless_force(results_root, runner, tmp_path):
    out = tmp_path / "report.md"
    out.write_text("my notes")
    args = ["report", "-f", "markdown", "-r", str(results_root), "-o", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "already exists" in refused.output
    assert "report.md" in refused.output and "--force" in refused.output
    assert "Traceback" not in refused.output and out.read_text() == "my notes"
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    written = markdown_tables(out.read_text())
    assert written == markdown_tables(report("-f", "markdown", "-r", str(results_root)))
    assert len(written) == 2 and written[0][0][0] == "machine"


def test_terminal_table_and_a_second_model_of_a_machine(results_root, runner, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(results_root, root)
    second = root / "fan-other" / "dev"
    shutil.copytree(root / "fan-small" / "dev", second)
    record = json.loads((second / "results.json").read_text())
    record.update(model="fan-other", created="2999-01-01T00:00:00+00:00")
    (second / "results.json").write_text(json.dumps(record))
    (root / "broken" / "dev").mkdir(parents=True)
    (root / "broken" / "dev" / "results.json").write_text("{not json")
    result = runner.invoke(app, ["report", "--results", str(root)])
    assert result.exit_code == 0, result.output
    assert "DCASE 2022, dev test set" in result.stdout and "fan-other" in result.stdout
    assert "mean (latest per machine)" in result.stdout
    assert "Skipped" in result.output and "broken" in result.output


def test_no_results_says_to_run_aegan_test(runner, tmp_path):
    result = runner.invoke(app, ["report", "--results", str(tmp_path)])
    assert result.exit_code == 1 and "aegan test" in result.output
    assert "Traceback" not in result.output


def test_results_on_synthetic_data_are_not_compared_with_the_paper(results_root):
    synthetic = results_root.parent / f"{results_root.name}-synthetic"
    rows = json.loads(report("--format", "json", "--results", str(synthetic)))["results"]
    fan = next(r for r in rows if r["machine"] == "fan")
    assert fan["model"] == "fan-small (synthetic data)"
    assert fan["published_figure"] is None and fan["difference"] is None
    assert "not compared with the paper" in report(
        "--format", "markdown", "--results", str(synthetic)
    )
