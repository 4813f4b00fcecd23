"""A machine's feature sets: its training sets and test sets, each from the cache or computed.

``prepare_machine`` is what ``aegan prepare``, training, calibration and
testing all use to get features: clips found under a data set root, checked,
then loaded from or written to the feature cache (``cache.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from aegan.config.schema import Config
from aegan.dcase.clips import discover, subsets_of, training_clips
from aegan.errors import DataError
from aegan.features.cache import FeatureSet, load_or_compute
from aegan.progress import Progress, no_progress


@dataclass
class PreparedSet:
    """One named feature set of a machine (e.g. ``dev_train``) and how it was obtained."""

    name: str
    features: FeatureSet
    cached: bool
    seconds: float


def set_name(subset: str, split: str) -> str:
    return f"{subset}_{split}"


def prepare_machine(
    cfg: Config,
    root: Path,
    progress: Progress = no_progress,
    include_test: bool = True,
) -> dict[str, PreparedSet]:
    """Features of a machine's training sets and the test sets present under ``root``.

    Training sets follow ``cfg.train_set``; the dev and eval test sets are
    included when their folders exist. Everything is checked (names, headers,
    lengths) set by set before that set is computed.
    """
    wanted = [(subset, "train") for subset in subsets_of(cfg.train_set)]
    if include_test:
        wanted += [("dev", "test"), ("eval", "test")]
    training = training_clips(root, cfg.year, cfg.machine, cfg.train_set)
    prepared: dict[str, PreparedSet] = {}
    for subset, split in wanted:
        clips = (
            [c for c in training if c.subset == subset]
            if split == "train"
            else discover(root, cfg.year, cfg.machine, subset, split)
        )
        if not clips:
            continue
        name = set_name(subset, split)
        started = time.perf_counter()
        features, cached = load_or_compute(clips, cfg.feat, name, progress)
        prepared[name] = PreparedSet(name, features, cached, time.perf_counter() - started)
    return prepared


def training_sets(prepared: dict[str, PreparedSet]) -> list[FeatureSet]:
    """The training feature sets among ``prepared`` (what scaling and calibration use)."""
    sets = [p.features for name, p in prepared.items() if name.endswith("_train")]
    if not sets:
        raise DataError("No training features to compute scaling statistics from.")
    return sets
