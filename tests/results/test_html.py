"""The HTML report page: one file with the result tables and embedded ROC curves."""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
import struct
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aegan.paths import RESULTS_FILE, SCORES_FILE
from aegan.results.html import to_html
from aegan.results.report import Report, collect

SCORE = "G_z_cos_min"
OTHER = "D_lof"
SECTIONS = ("00", "01", "02")

# ---------------------------------------------------------------- reading the page back

VOID = {"meta", "img", "br", "hr", "link", "input"}


@dataclass
class Figure:
    src: str | None = None
    alt: str | None = None
    caption: str = ""


@dataclass
class Page(HTMLParser):
    """The parts of the page a reader sees, and a check that every tag is closed in order."""

    tags: list[str] = field(default_factory=list)
    headings: list[tuple[str, str]] = field(default_factory=list)  # (h1/h2/h3, text)
    tables: list[list[list[tuple[str, str | None]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    title: str = ""

    def __post_init__(self) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] | None = None
        self.cell_class: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attr = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag == "figure":
            self.figures.append(Figure())
        elif tag == "img":
            self.figures[-1].src, self.figures[-1].alt = attr.get("src"), attr.get("alt")
        if tag in ("td", "th", "h1", "h2", "h3", "p", "figcaption", "title"):
            self.text, self.cell_class = [], attr.get("class")

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        text = "".join(self.text or [])
        if tag in ("td", "th"):
            self.tables[-1][-1].append((text, self.cell_class))
        elif tag in ("h1", "h2", "h3"):
            self.headings.append((tag, text))
        elif tag == "p":
            self.notes.append(text)
        elif tag == "figcaption":
            self.figures[-1].caption = text
        elif tag == "title":
            self.title = text
        if tag in ("td", "th", "h1", "h2", "h3", "p", "figcaption", "title"):
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def read_page(page: str) -> Page:
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    assert parsed.stack == [], f"unclosed tags: {parsed.stack}"
    return parsed


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------- results folders


def figures(auc: float, year: int = 2022) -> dict:
    if year == 2020:
        groups = [{"group": g, "n_clips": 20, "auc": auc, "pauc": auc - 0.2} for g in ("00", "02")]
        summary = {"auc": auc, "pauc": auc - 0.2, "average": auc - 0.1}
        return {"official": auc - 0.1, "summary": summary, "groups": groups}
    groups = [
        {"group": g, "n_clips": 20, "auc": auc, "auc_source": auc, "auc_target": auc - 0.1,
         "pauc": auc - 0.2}
        for g in SECTIONS
    ]  # fmt: skip
    hmean = 3 / (1 / auc + 1 / (auc - 0.1) + 1 / (auc - 0.2))
    summary = {"auc_source": auc, "auc_target": auc - 0.1, "pauc": auc - 0.2, "hmean": hmean}
    return {"official": hmean, "summary": summary, "groups": groups}


def write_result(folder: Path, machine: str, model: str, auc: float, year: int = 2022) -> Path:
    """A results.json as `aegan test` writes it: two scores, the chosen one the better."""
    record = {
        "model": model, "year": year, "machine": machine, "subset": "dev",
        "created": "2024-01-01T00:00:00+00:00", "chosen_score": SCORE,
        "evaluation": {
            "year": year, "machine": machine, "subset": "dev", "max_fpr": 0.1, "best": SCORE,
            "scores": {SCORE: figures(auc, year), OTHER: figures(auc - 0.05, year)},
        },
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULTS_FILE).write_text(json.dumps(record), encoding="utf-8")
    return folder


def write_scores(folder: Path, groups: dict[str, list[int]], seed: int = 0) -> None:
    """scores.csv: one row per clip, anomalies scoring higher on average."""
    rng = np.random.default_rng(seed)
    with open(folder / SCORES_FILE, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "group", "label", SCORE, OTHER])
        for group, labels in groups.items():
            for index, label in enumerate(labels):
                value = rng.normal(1.0 + label, 0.5)
                writer.writerow([f"clip_{group}_{index}.wav", group, label, value, -value])


BOTH_CLASSES = {g: [0, 0, 0, 1, 1, 1] for g in SECTIONS}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fan 2022 with scores, gearbox 2022 without, pump 2020 without."""
    root = tmp_path_factory.mktemp("results")
    write_scores(write_result(root / "fan-a" / "dev", "fan", "fan-a", 0.8), BOTH_CLASSES)
    write_result(root / "gearbox-a" / "dev", "gearbox", "gearbox-a", 0.7)
    write_result(root / "pump-a" / "dev", "pump", "pump-a", 0.9, year=2020)
    return root


@pytest.fixture(scope="module")
def report(root: Path) -> Report:
    return collect(root)


@pytest.fixture(scope="module")
def page(report: Report) -> Page:
    return read_page(to_html(report))


# ---------------------------------------------------------------- tests


def test_one_titled_page_with_a_section_per_year(page: Page) -> None:
    assert page.title == "AEGAN-AD results"
    assert page.tags.count("html") == page.tags.count("body") == page.tags.count("style") == 1
    assert [text for tag, text in page.headings if tag in ("h1", "h2")] == [
        "AEGAN-AD results",
        "DCASE 2020, dev test set",
        "DCASE 2022, dev test set",
    ]
    assert len(page.tables) == 2


def test_tables_show_the_figures_in_percent_with_the_mean_row_last(page: Page) -> None:
    t2020, t2022 = page.tables
    for table in (t2020, t2022):
        header = [text for text, _ in table[0]]
        assert all(len(row) == len(header) for row in table[1:])
        assert table[-1][0][0].startswith("mean")
    header = [text for text, _ in t2022[0]]
    rows = {row[0][0]: dict(zip(header, row, strict=True)) for row in t2022[1:]}
    assert list(rows) == ["fan", "gearbox", "mean"]
    fan = rows["fan"]
    assert fan["AUC src"] == ("80.00", "num") and fan["AUC tgt"] == ("70.00", "num")
    assert fan["score"] == (SCORE, None) and fan["machine"] == ("fan", None)
    assert fan["hmean"][0] == f"{100 * figures(0.8)['official']:.2f}"
    assert fan["published hmean"][0] == "65.83"  # the paper's fan figure, beside ours
    assert fan["difference"] == (f"{float(fan['hmean'][0]) - 65.83:+.2f}", "num")


def test_each_table_has_a_note_saying_what_the_figures_are(page: Page) -> None:
    assert len(page.notes) == 2
    assert "arithmetic mean over machine types" in page.notes[0]
    assert "harmonic mean over all machine types and sections" in page.notes[1]


def test_roc_curves_are_embedded_png_images_for_rows_with_scores(page: Page) -> None:
    by_machine = {f.caption.split(",")[0]: f for f in page.figures}
    assert sorted(by_machine) == ["fan", "gearbox", "pump"]
    fan = by_machine["fan"]
    assert fan.caption == f"fan, model fan-a, {SCORE}"
    assert fan.src is not None and fan.src.startswith("data:image/png;base64,")
    width, height = png_size(base64.b64decode(fan.src.removeprefix("data:image/png;base64,")))
    assert width >= 300 and height >= 300
    assert fan.alt == f"ROC curves: {fan.caption}"
    for machine in ("gearbox", "pump"):
        assert by_machine[machine].src is None
        assert by_machine[machine].caption.endswith(f": no labelled {SCORES_FILE} to draw")


def test_the_page_needs_nothing_but_itself(report: Report) -> None:
    page = to_html(report)
    parsed = read_page(page)
    assert not {"script", "link", "iframe"} & set(parsed.tags)
    assert all(f.src is None or f.src.startswith("data:") for f in parsed.figures)
    assert "http:" not in page and "https:" not in page


@pytest.mark.parametrize(
    ("groups", "drawn"),
    [
        ({g: [0, 0, 1, 1] for g in SECTIONS}, True),
        ({"00": [0, 0, 0], "01": [1, 1, 1]}, False),  # no section holds both classes
        ({"00": [0, 0, 0], "01": [0, 1, 1]}, True),  # one section is enough
        ({}, False),  # a scores.csv without clips
    ],
)
def test_a_curve_needs_a_group_with_both_classes(
    tmp_path: Path, groups: dict[str, list[int]], drawn: bool
) -> None:
    write_scores(write_result(tmp_path / "m" / "dev", "fan", "m", 0.8), groups)
    (figure,) = read_page(to_html(collect(tmp_path))).figures
    assert (figure.src is not None) == drawn


def test_unreadable_scores_are_reported_not_raised(tmp_path: Path) -> None:
    folder = write_result(tmp_path / "m" / "dev", "fan", "m", 0.8)
    (folder / SCORES_FILE).write_text("file,group,label\nx.wav,00,1\n")  # no score column
    (figure,) = read_page(to_html(collect(tmp_path))).figures
    assert figure.src is None and "no labelled" in figure.caption
    (folder / SCORES_FILE).write_text(f"file,group,label,{SCORE}\nx.wav,00,1,nan\ny.wav,00,0,1\n")
    (figure,) = read_page(to_html(collect(tmp_path))).figures
    assert figure.src is not None  # a diverged model's NaN scores still rank (as the worst)


def test_unlabelled_clips_are_left_out_of_the_curves(tmp_path: Path) -> None:
    folder = write_result(tmp_path / "m" / "dev", "fan", "m", 0.8)
    (folder / SCORES_FILE).write_text(
        f"file,group,label,{SCORE}\na.wav,00,,1\nb.wav,00,,2\nc.wav,00,0,1\n"
    )  # the only labelled clip is normal: nothing to draw
    (figure,) = read_page(to_html(collect(tmp_path))).figures
    assert figure.src is None


def test_names_are_escaped_everywhere_they_appear(tmp_path: Path) -> None:
    model = '<img src=x onerror="alert(1)"> & <b>bold</b>'
    write_scores(write_result(tmp_path / "evil" / "dev", "fan", model, 0.8), BOTH_CLASSES)
    write_result(tmp_path / "other" / "dev", "fan", "other", 0.7)  # two models: a model column
    page = to_html(collect(tmp_path))
    assert model not in page and "<b>" not in page and 'onerror="' not in page
    parsed = read_page(page)
    assert parsed.tags.count("img") == 1  # only the real ROC image
    header = [text for text, _ in parsed.tables[0][0]]
    cells = [dict(zip(header, (t for t, _ in row), strict=True)) for row in parsed.tables[0][1:]]
    assert model in [c["model"] for c in cells]
    evil = next(f for f in parsed.figures if model in f.caption)
    assert evil.caption == f"fan, model {model}, {SCORE}"
    assert evil.alt == f"ROC curves: {evil.caption}"


names = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(machine=names, model=names)
def test_any_name_reads_back_exactly_and_adds_no_markup(
    report: Report, machine: str, model: str
) -> None:
    """Rows without scores.csv (no drawing): a name's text survives escaping unchanged."""
    table = next(t for t in report.tables if t.year == 2022)
    row = next(r for r in table.rows if r.machine == "gearbox")
    renamed = dataclasses.replace(row, machine=machine, model=model)
    one = Report([dataclasses.replace(table, rows=[renamed])])
    parsed = read_page(to_html(one))
    assert [f.caption for f in parsed.figures] == [
        f"{machine}, model {model}, {SCORE}: no labelled {SCORES_FILE} to draw"
    ]
    assert parsed.tables[0][1][0][0] == machine
    expected = ["html", "head", "meta", "title", "style", "body", "h1", "h2", "table", "thead"]
    assert parsed.tags[: len(expected)] == expected
    assert set(parsed.tags) == {*expected, "tr", "th", "tbody", "td", "p", "h3", "div", "figure",
                                "figcaption"}  # fmt: skip
