"""Testing a model on a DCASE test set or an own labelled folder: all 19 scores, figures, files.

``assess`` scores every test clip of a machine with a ``Detector``, evaluates
all 19 scores when labels are known (the dev test set, or the eval test set
with its ground truth), and writes a results folder: the official submission
files for the model's chosen score, every clip's 19 scores, and
``results.json`` (read by ``aegan report``). ``assess_folder`` does the same
for an own data set's DIR/test (``aegan.owndata.folder``); its clips have no
DCASE names, so it writes no submission files.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aegan import paths
from aegan.bundles.provenance import now_iso
from aegan.bundles.registry import default_model, published_for
from aegan.dcase.clips import Clip, discover, is_synthetic, require_root
from aegan.dcase.decisions import DecisionFigures, decision_figures, decisions_record
from aegan.dcase.evaluation import Evaluation
from aegan.dcase.facts import edition
from aegan.dcase.ground_truth import ground_truth_folder, read_ground_truth, with_ground_truth
from aegan.dcase.metrics import evaluate
from aegan.dcase.submission import write_submission
from aegan.detector.detector import Detector
from aegan.errors import DataError
from aegan.features.cache import load_or_compute
from aegan.features.prepare import set_name
from aegan.model.scores import ClipScores
from aegan.owndata.folder import OWN_SUBSET, OwnData, relative_name
from aegan.progress import Progress, no_progress
from aegan.score_names import SCORE_NAMES


@dataclass
class Assessment:
    """What ``assess`` computed and where it wrote it."""

    detector: Detector
    subset: str
    clips: list[Clip]
    scores: ClipScores
    decisions: np.ndarray  # bool per clip, for the chosen score
    evaluation: Evaluation | None  # None for an unlabelled eval set
    folder: Path
    files: list[Path]
    synthetic: bool = False  # made by aegan.synth.dataset: not comparable with the paper
    data: Path | None = None  # the own data folder tested on (None: a DCASE test set)
    decision_figures: list[DecisionFigures] | None = None  # None for an unlabelled eval set

    @property
    def chosen(self) -> str:
        return self.detector.score_name

    def to_dict(self) -> dict:
        det = self.detector
        own = self.data is not None
        known = None if self.synthetic or own else published_for(det.cfg.year, det.cfg.machine)
        return {
            "model": det.name,
            "year": det.cfg.year,
            "machine": det.cfg.machine,
            "subset": self.subset,
            "data": str(self.data) if own else None,
            "synthetic_data": self.synthetic,
            "created": now_iso(),
            "chosen_score": self.chosen,
            "threshold": det.threshold(),
            "anomalous_clips": int(self.decisions.sum()),
            "n_clips": len(self.clips),
            "provenance": det.provenance.to_dict(),
            "published": (
                {"model": known.name, "score": known.score, known.figure_name: known.figure}
                if known
                else None
            ),
            "evaluation": self.evaluation.to_dict() if self.evaluation else None,
            "decisions": (
                decisions_record(self.decision_figures, self.chosen, det.threshold())
                if self.decision_figures is not None
                else None
            ),
        }


def labelled_test_clips(
    detector: Detector, root: Path, subset: str, ground_truth: Path | None = None
) -> list[Clip]:
    """The machine's test clips of ``subset``, labelled from the ground truth for eval."""
    cfg = detector.cfg
    clips = discover(root, cfg.year, cfg.machine, subset, "test")
    held = edition(cfg.year).subsets_of(cfg.machine)
    if not clips and subset not in held:  # 2023 on: a machine type is in one subset only
        raise DataError(
            f"No {subset} test data for {cfg.machine} (DCASE {cfg.year}): it is in the "
            f"{' and '.join(held)} set only.",
            f"Use --split {held[0]}.",
        )
    if not clips and subset == "eval" and edition(cfg.year).ground_truth is None:
        raise DataError(
            f"The DCASE {cfg.year} eval test set is not published yet.",
            "Use --split dev." if "dev" in held else f"{cfg.machine} can be tested once it is.",
        )
    if not clips:
        archives = edition(cfg.year).archives
        record = next(a.record for a in archives if a.subset == subset and "test" in a.splits)
        raise DataError(
            f"No {subset} test data for {cfg.machine} (DCASE {cfg.year}) under {root}.",
            f"Download it with `aegan fetch --data {cfg.machine} --year {cfg.short_year} "
            f"--split {subset}` (it is published in Zenodo record {record}), "
            "or pass --data-dir.",
        )
    if subset == "eval" and any(c.label is None for c in clips):
        folder = ground_truth or ground_truth_folder(root)
        if ground_truth is not None or folder.is_dir():  # a folder given must hold the labels
            clips = with_ground_truth(clips, read_ground_truth(folder, cfg.year, cfg.machine))
    return clips


def assess_machine(
    machine: str,
    year: int | str,
    *,
    model: str | None = None,
    subset: str = "dev",
    ground_truth: Path | None = None,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    device: str | None = None,
    precision: str = "fp32",
    progress: Progress = no_progress,
) -> Assessment:
    """Test a DCASE machine type: its data root, the model (default: the published one), ``assess``.

    The model loads on ``device`` (default: the ``device`` setting) and must
    be for this machine type and year.
    """
    from aegan.config.settings import data_root
    from aegan.dcase.facts import MachineType

    kind = MachineType.parse(year, machine)
    root = require_root(data_root(kind.year, data_dir), kind.year)
    name = default_model(kind.year, kind.name) if model is None else model
    detector = Detector.load(name, device=device, precision=precision)
    detector.check_matches(kind.year, kind.name)
    return assess(
        detector, root, subset, ground_truth=ground_truth, out_dir=out_dir, progress=progress
    )


def assess(
    detector: Detector,
    root: Path,
    subset: str = "dev",
    *,
    ground_truth: Path | None = None,
    out_dir: Path | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
) -> Assessment:
    """Score a machine's test set with ``detector``, evaluate it and write the results folder."""
    root = require_root(root, detector.cfg.year)
    clips = labelled_test_clips(detector, root, subset, ground_truth)
    return _assessed(
        detector, clips, subset, set_name(subset, "test"), out_dir, batch_size, progress,
        synthetic=is_synthetic(root),
    )  # fmt: skip


def assess_folder(
    detector: Detector,
    data: OwnData,
    *,
    out_dir: Path | None = None,
    batch_size: int = 256,
    progress: Progress = no_progress,
) -> Assessment:
    """Score an own data set's labelled DIR/test with ``detector``: figures and files as ``assess``."""
    clips = data.test_clips(detector.cfg.year, detector.cfg.machine)
    return _assessed(
        detector, clips, OWN_SUBSET, data.set_name("test"), out_dir, batch_size, progress,
        data=data.folder,
    )  # fmt: skip


def _assessed(
    detector: Detector,
    clips: list[Clip],
    subset: str,
    cache_name: str,
    out_dir: Path | None,
    batch_size: int,
    progress: Progress,
    *,
    synthetic: bool = False,
    data: Path | None = None,
) -> Assessment:
    """Score ``clips``, evaluate them where all are labelled, decide, write the results folder."""
    scores = _score(detector, clips, cache_name, batch_size, progress)
    labelled = all(c.label is not None for c in clips)
    evaluation = evaluate(clips, scores.values) if labelled else None
    decisions = detector.decide(scores.column(detector.score_name))
    folder = Path(out_dir) if out_dir else paths.results_dir() / (detector.name or "model") / subset
    result = Assessment(
        detector, subset, clips, scores, decisions, evaluation, folder, [], synthetic, data,
        decision_figures(clips, decisions) if labelled else None,
    )  # fmt: skip
    result.files = write_results(result)
    return result


def _score(
    detector: Detector, clips: list[Clip], name: str, batch_size: int, progress: Progress
) -> ClipScores:
    """All 19 scores of ``clips``, their features from the cache (computed once)."""
    features, _ = load_or_compute(clips, detector.cfg.feat, name, progress)
    return detector.score_spectrograms(
        [features.spectrogram(i) for i in range(len(features))],
        batch_size=batch_size,
        progress=progress,
    )


def write_results(result: Assessment) -> list[Path]:
    """Submission files (chosen score), every clip's 19 scores, and results.json."""
    cfg = result.detector.cfg
    chosen = result.scores.column(result.chosen)
    decisions = result.decisions.astype(int) if edition(cfg.year).has_domains else None
    files = (
        write_submission(result.folder, cfg.year, cfg.machine, result.clips, chosen, decisions)
        if result.data is None
        else []
    )
    files.append(_write_scores_csv(result))
    results_path = result.folder / paths.RESULTS_FILE
    paths.write_text_atomic(results_path, json.dumps(result.to_dict(), indent=2, allow_nan=False))
    files.append(results_path)
    return files


def _write_scores_csv(result: Assessment) -> Path:
    path = result.folder / paths.SCORES_FILE
    with paths.atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file_name", "group", "domain", "label", "decision", *SCORE_NAMES])
        rows = zip(result.clips, result.decisions, result.scores.values, strict=True)
        for clip, decision, row in rows:
            label = "" if clip.label is None else clip.label
            writer.writerow(
                [relative_name(clip), clip.group, clip.domain or "", label, int(decision),
                 *(repr(float(v)) for v in row)]
            )  # fmt: skip
    return path
