"""Every picture aegan draws: anomaly maps, ROC curves, training curves, timelines.

The one module that imports matplotlib (lazily, with the Agg canvas), so that
nothing else pays its import time and no display is ever needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aegan import paths
from aegan.features.logmel import hz_to_mel, mel_to_hz

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from aegan.detector.localize import Localization
    from aegan.detector.timeline import Timeline


def _figure(size: tuple[float, float], dpi: int = 100) -> Figure:
    """A figure on an Agg canvas: no GUI backend is touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _write_png(png: bytes, path: Path) -> Path:
    with paths.atomic_path(Path(path)) as tmp:
        tmp.write_bytes(png)
    return Path(path)


PANELS = (
    ("input", "Input (scaled)", "level (0-1)"),
    ("reconstruction", "Reconstruction (mean over overlapping segments)", "level (0-1)"),
    ("mean_training", "Mean training spectrogram", "level (0-1)"),
    ("anomaly_map", "Anomaly map |reconstruction - mean| (the original's)", "|difference|"),
    ("residual", "Residual |input - reconstruction|", "|difference|"),
)
"""(array, panel title, colour-bar label), top to bottom."""


HZ_TICKS = (0, 250, 500, 1000, 2000, 4000, 6000, 8000, 12000, 16000, 24000)


PNG_SIZE_INCHES = (10.0, 12.0)


PNG_DPI = 100


def _cell_edges(result: Localization, nyquist: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel edges: half a frame around each frame centre; mel midpoints between band centres.

    The outer bands reach 0 Hz and the Nyquist frequency, as their filters do.
    """
    times = result.times
    step = times[1] - times[0] if len(times) > 1 else 1.0
    time_edges = np.append(times - step / 2, times[-1] + step / 2)
    mels = hz_to_mel(result.frequencies)
    inner = mel_to_hz((mels[1:] + mels[:-1]) / 2)
    return time_edges, np.concatenate([[0.0], inner, [nyquist]])


def render_png(result: Localization, title: str) -> bytes:
    """The five panels stacked, sharing a time axis in seconds and a mel-scaled Hz axis."""
    return _png_bytes(map_figure(result, title))


def map_figure(result: Localization, title: str) -> Figure:
    """The figure of ``render_png``, before it becomes pixels."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter

    fig = _figure(PNG_SIZE_INCHES, PNG_DPI)
    axes = fig.subplots(len(PANELS), 1, sharex=True)
    time_edges, freq_edges = _cell_edges(result, result.sample_rate / 2)
    for ax, (name, panel_title, bar_label) in zip(axes, PANELS, strict=True):
        values = getattr(result, name)
        is_level = bar_label.startswith("level")
        mesh = ax.pcolormesh(
            time_edges, freq_edges, values, cmap="magma" if is_level else "viridis",
            vmin=0.0, vmax=1.0 if is_level else max(float(values.max()), 1e-6),
            rasterized=True,
        )  # fmt: skip
        ax.set_yscale("function", functions=(hz_to_mel, mel_to_hz))
        ax.set_ylim(freq_edges[0], freq_edges[-1])
        ax.yaxis.set_major_locator(FixedLocator(HZ_TICKS))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%d"))
        ax.set_ylabel("Frequency (Hz)")
        ax.set_title(panel_title, loc="left", fontsize=10)
        fig.colorbar(mesh, ax=ax, label=bar_label, pad=0.01, fraction=0.04)
    axes[-1].set_xlabel("Time (s)")
    fig.suptitle(title)
    return fig


def save_png(result: Localization, path: Path, title: str) -> Path:
    """The five panels as a PNG (``PNG_SIZE_INCHES`` at ``PNG_DPI``), written atomically."""
    return _write_png(render_png(result, title), path)


@dataclass(frozen=True)
class TrainingCurves:
    """A run's curves as plain series, per epoch: what ``plot_curves`` draws."""

    epochs: list[int]
    losses: dict[str, list[float]]  # legend label -> one value per epoch
    test_set: str  # what validation scored: "dev test", or an own folder's test set
    figure_name: str | None = None  # "average" (2020) or "hmean" (2022); None: not validated
    validated_epochs: list[int] = field(default_factory=list)
    best: list[float] = field(default_factory=list)  # best of all scores, in %
    score: str | None = None  # the model's score, and its figure in %
    chosen: list[float] = field(default_factory=list)


def plot_curves(target: Path, curves: TrainingCurves) -> Path:
    """Losses, and the official figure (best of all scores, and the model's score) per epoch."""
    return _write_png(_png_bytes(curves_figure(curves)), target)


def curves_figure(curves: TrainingCurves) -> Figure:
    """The figure of ``plot_curves``: losses left, validation figures right."""
    figure = _figure((9, 3.6))
    losses, figures = figure.subplots(1, 2)
    for label, values in curves.losses.items():
        losses.plot(curves.epochs, values, label=label)
    losses.set(xlabel="epoch", ylabel="loss", title="losses")
    losses.legend()
    if curves.validated_epochs:
        name = curves.figure_name
        figures.plot(curves.validated_epochs, curves.best, label="best of all scores")
        figures.plot(curves.validated_epochs, curves.chosen, label=curves.score)
        figures.set(xlabel="epoch", ylabel=f"{name} (%)", title=f"{curves.test_set} {name}")
        figures.legend()
    else:
        figures.set_axis_off()
        figures.text(0.5, 0.5, f"no {curves.test_set} set: not validated", ha="center", va="center")
    return figure


def roc_png(
    groups: Sequence[str], labels: np.ndarray, values: np.ndarray, kind: str, title: str
) -> bytes | None:
    """ROC curves, one per group (machine ID or section) that holds both classes.

    None when no group has both classes.
    """
    fig = roc_figure(groups, labels, values, kind, title)
    return None if fig is None else _png_bytes(fig)


def roc_figure(
    groups: Sequence[str], labels: np.ndarray, values: np.ndarray, kind: str, title: str
) -> Figure | None:
    """The figure of ``roc_png``; None when no group has both classes."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = _figure((4.2, 4.0))
    ax = fig.subplots()
    drawn = 0
    for group in sorted(set(groups)):
        mask = np.array([g == group for g in groups])
        if len(set(labels[mask])) < 2:
            continue
        fpr, tpr, _ = roc_curve(labels[mask], values[mask])
        auc = 100 * roc_auc_score(labels[mask], values[mask])
        ax.plot(fpr, tpr, label=f"{kind} {group} (AUC {auc:.2f}%)")
        drawn += 1
    if not drawn:
        return None
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def render_timeline(timeline: Timeline, title: str) -> bytes:
    """Score against time: one step per window, the threshold, anomalous windows marked.

    Overlapping windows are drawn at their start; an unusable window leaves a gap.
    """
    return _png_bytes(timeline_figure(timeline, title))


def timeline_figure(timeline: Timeline, title: str) -> Figure:
    """The figure of ``render_timeline``, before it becomes pixels."""
    fig = _figure((10, 3.2))
    ax = fig.add_subplot()
    windows = timeline.windows
    starts = np.array([w.start for w in windows])
    scores = np.array([np.nan if w.score is None else w.score for w in windows])
    end = max(w.end for w in windows)
    steps = np.append(scores, scores[-1])  # the last window's score holds until its end
    ax.step(np.append(starts, end), steps, where="post", label=timeline.score_name)
    flagged = np.array([bool(w.anomalous) for w in windows])
    if flagged.any():
        ax.scatter(starts[flagged], scores[flagged], color="tab:red", zorder=3, label="anomaly")
    ax.axhline(timeline.threshold, color="tab:red", linestyle="--", label="threshold")
    ax.set_xlim(starts.min(), end)
    ax.set_xlabel(f"time (s), windows of {timeline.window_seconds:g} s")
    ax.set_ylabel("anomaly score")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def save_timeline_png(timeline: Timeline, path: Path, title: str) -> Path:
    """Draw a timeline and write it atomically as a PNG."""
    return _write_png(render_timeline(timeline, title), path)
