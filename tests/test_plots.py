"""The pictures show what they claim: read back from the PNG and from the figure drawn."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from aegan import plots
from aegan.detector.localize import Localization
from aegan.detector.timeline import Timeline, Window
from aegan.training.runs import EpochRecord, training_curves

THRESHOLD_COLOUR = to_rgb("tab:red")


def pixels(png: bytes) -> np.ndarray:
    """(height, width, 3) RGB in [0, 1], row 0 at the top."""
    return imread(io.BytesIO(png), format="png")[..., :3]


def timeline(threshold: float = 0.6) -> Timeline:
    scores = [0.2, 0.5, 0.9, None, 0.4, 0.8]
    windows = [
        Window(1.0 * i, 1.0 * i + 2.0, s, None if s is None else s > threshold)
        for i, s in enumerate(scores)
    ]
    return Timeline(Path("long.wav"), "G_x_2_sum", threshold, 2.0, 1.0, windows)


def test_the_timeline_draws_its_threshold_at_the_threshold_over_the_whole_recording():
    line = timeline()
    fig = plots.timeline_figure(line, "long.wav")
    png = plots._png_bytes(fig)  # draws: the transforms below are those of the pixels
    (ax,) = fig.axes
    assert ax.get_xlim() == (0.0, 7.0)  # first window's start to the last one's end
    threshold = next(m for m in ax.lines if m.get_label() == "threshold")
    assert set(threshold.get_ydata()) == {0.6}
    flagged = ax.collections[0].get_offsets()
    assert flagged.tolist() == [[2.0, 0.9], [5.0, 0.8]]  # the windows above the threshold

    image = pixels(png)
    height = image.shape[0]
    (left, y), (right, _) = ax.transData.transform([(0.0, 0.6), (7.0, 0.6)])
    row = image[height - round(y) - 1 : height - round(y) + 2]  # the line is 1.5 px wide
    red = np.isclose(row, THRESHOLD_COLOUR, atol=0.08).all(axis=-1).any(axis=0)
    span = red[math.ceil(left) : math.floor(right)]
    assert span.mean() > 0.4  # a dashed line across the whole axis
    above = image[: height - round(y) - 6, math.ceil(left) : math.floor(right)]
    below = image[height - round(y) + 6 :, math.ceil(left) : math.floor(right)]
    for elsewhere in (above, below):  # no other row is that red along the axis
        assert (
            np.isclose(elsewhere, THRESHOLD_COLOUR, atol=0.08).all(axis=-1).mean(axis=1).max() < 0.4
        )


def history(validated: bool) -> list[EpochRecord]:
    records = []
    for epoch in (1, 2, 3):
        record = EpochRecord(epoch, {"loss_d": -epoch, "loss_g": 2.0 / epoch, "recon": 0.1}, 1, 1)
        if validated:
            record.figure_name = "hmean"
            record.figures = {"G_x_2_sum": 0.5 + epoch / 10}
            record.best_score, record.best_figure = "G_x_2_sum", 0.6 + epoch / 10
        records.append(record)
    return records


def test_the_curves_show_each_loss_and_figure_per_epoch():
    losses, figures = plots.curves_figure(
        training_curves(history(True), "G_x_2_sum", "dev test")
    ).axes
    lines = {line.get_label(): line for line in losses.lines}
    assert lines["critic"].get_ydata().tolist() == [-1, -2, -3]
    assert lines["generator"].get_ydata().tolist() == [2.0, 1.0, 2.0 / 3]
    assert all(line.get_xdata().tolist() == [1, 2, 3] for line in lines.values())
    curves = {line.get_label(): line.get_ydata().tolist() for line in figures.lines}
    assert curves.keys() == {"best of all scores", "G_x_2_sum"}
    assert curves["best of all scores"] == pytest.approx([70.0, 80.0, 90.0])
    assert curves["G_x_2_sum"] == pytest.approx([60.0, 70.0, 80.0])
    assert figures.get_ylabel() == "hmean (%)"


def test_unvalidated_curves_say_so_instead_of_drawing_figures():
    _, figures = plots.curves_figure(training_curves(history(False), "G_x_2_sum", "dev test")).axes
    assert not figures.lines and not figures.axison
    assert [t.get_text() for t in figures.texts] == ["no dev test set: not validated"]


def test_the_anomaly_map_spans_the_clip_and_the_bands_up_to_nyquist():
    rng = np.random.default_rng(0)
    shape = (8, 20)
    arrays = {name: rng.uniform(0, 1, shape) for name, _, _ in plots.PANELS}
    times = 0.016 + 0.032 * np.arange(shape[1])
    frequencies = np.linspace(200.0, 7000.0, shape[0])
    result = Localization(**arrays, times=times, frequencies=frequencies, sample_rate=16000)
    fig = plots.map_figure(result, "clip")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title(loc="left") for ax in panels] == [t for _, t, _ in plots.PANELS]
    for ax, (name, _, _) in zip(panels, plots.PANELS, strict=True):
        assert ax.get_ylim() == pytest.approx((0.0, 8000.0))
        assert ax.get_xlim() == pytest.approx((0.0, 0.032 * shape[1]))
        np.testing.assert_array_equal(ax.collections[0].get_array().reshape(shape), arrays[name])


def test_roc_curves_are_drawn_per_group_with_their_auc():
    labels = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    values = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.3, 0.1])
    groups = ["00"] * 4 + ["01"] * 4
    fig = plots.roc_figure(groups, labels, values, "section", "fan")
    (ax,) = fig.axes
    labelled = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert labelled == ["section 00 (AUC 75.00%)", "section 01 (AUC 50.00%)"]
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.01)
    assert plots.roc_figure(["00"] * 2, np.array([0, 0]), values[:2], "section", "fan") is None
