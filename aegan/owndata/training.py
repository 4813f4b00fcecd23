"""Training on an own data set (``aegan.owndata.folder``): settings, features, starting weights.

An own model's config is a recipe's: a published model's (``fan22``: that
machine type's published recipe), a local model's (its saved config), or by
default the DCASE 2022 defaults. The config keeps the recipe's year and
machine type, which name the network and feature settings; the bundle's
provenance names the data folder. ``--init`` starts from another model's
weights (fine-tuning), which needs the same network settings.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from aegan.bundles.registry import published
from aegan.config.keys import flatten, set_key, to_dict
from aegan.config.recipes import recipe, year_defaults
from aegan.config.schema import MIX, Config, apply_sources, base_config
from aegan.dcase.clips import Clip
from aegan.dcase.facts import MachineType, edition
from aegan.detector.detector import Detector
from aegan.errors import DataError, UsageError
from aegan.features.audio import AudioInfo, BandLimitedWarning, probe
from aegan.features.cache import FeatureSet, load_or_compute
from aegan.features.logmel import frame_count
from aegan.features.segments import shortest_seconds
from aegan.model.embedding import MIN_TRAINING_CLIPS
from aegan.model.nets import Discriminator, Generator
from aegan.model.reference import segment_count
from aegan.owndata.folder import OwnData
from aegan.progress import Progress, no_progress

DEFAULT_YEAR = 2022
"""Without --recipe or --init, an own model trains with this year's defaults."""


def default_config(year: int = DEFAULT_YEAR) -> Config:
    """The year's defaults alone, named by a machine type that has no recipe of its own.

    The config names a machine type (year and machine say which settings it
    holds); the first type without a published recipe is the one whose
    settings are exactly the year's defaults.
    """
    plain = [m for m in edition(year).machines if not recipe(MachineType(year, m))]
    if not plain:
        raise UsageError(
            f"Every DCASE {year} machine type has its own recipe; pick one with --recipe."
        )
    cfg = Config(year=year, machine=plain[0])
    for key, value in year_defaults(year).items():
        set_key(cfg, key, value)
    return cfg


def recipe_config(recipe_name: str | None, init: str | None = None) -> Config:
    """The settings an own model starts from: --recipe, else the --init model's, else the defaults."""
    source = recipe_name if recipe_name is not None else init
    if source is None:
        return default_config()
    known = published(source)
    if known is not None:
        return base_config(MachineType(known.year, known.machine))
    return Detector.load_config(source)


def own_config(
    data: OwnData,
    recipe_name: str | None,
    init: str | None,
    config_file: Path | None,
    overrides: Iterable[str],
) -> Config:
    """The recipe, then --config and --set; without a test set the last epoch is kept.

    ``paper`` selection needs labelled test clips; without DIR/test the run
    keeps the last epoch and the recipe's score unless --select says otherwise.
    """
    cfg = recipe_config(recipe_name, init)
    cfg.feat.channel = MIX  # an own recording's channels are whatever its recorder made
    if not data.has_test:
        cfg.train.select = "last"
    return apply_sources(cfg, config_file, overrides)


def check_audio_amount(clips: Sequence[Clip], cfg: Config, folder: Path) -> None:
    """Refuse, from the file headers alone, a train/ folder with too little audio.

    A model needs MIN_TRAINING_CLIPS recordings (its embedding detectors compare
    each with its neighbours), each at least one model input long, and one
    training batch of segments; the message says how much that is and how much
    was found.
    """
    feat, batch = cfg.feat, cfg.train.batch_size
    infos = [probe(c.path, feat.sample_rate) for c in clips]
    _warn_band_limited(infos, feat.sample_rate, folder)
    frames = [frame_count(info.target_samples, feat.hop_length) for info in infos]
    counts = [segment_count(f, feat) for f in frames]
    usable = [n for n in counts if n > 0]
    segments = sum(counts)
    if len(usable) >= MIN_TRAINING_CLIPS and segments >= batch:
        return
    if len(usable) >= MIN_TRAINING_CLIPS:  # enough recordings: the segments are what is short
        raise DataError(
            f"Too little audio in {folder / 'train'}: its {len(usable)} recordings give "
            f"{segments} segments (model inputs of {feat.segment_frames} frames), fewer than one "
            f"training batch of {batch}.",
            "Add normal recordings (or longer ones), or train with a smaller batch: "
            f"--set train.batch_size={_fitting_batch(segments)}.",
        )
    seconds = sum(frames) * feat.hop_length / feat.sample_rate
    need_frames = batch * feat.segment_hop + MIN_TRAINING_CLIPS * (feat.segment_frames - 1)
    need_seconds = need_frames * feat.hop_length / feat.sample_rate
    raise DataError(
        f"Too little audio in {folder / 'train'}: {len(clips)} recording(s), {seconds:.1f} s in "
        f"all, {len(usable)} of them long enough. Training needs at least "
        f"{MIN_TRAINING_CLIPS} recordings of at least {shortest_seconds(feat):.2f} s each and "
        f"about {need_seconds:.0f} s in all (one batch of {batch} segments).",
        "Add normal recordings (or cut long ones into pieces of about 10 s).",
    )


def _warn_band_limited(infos: Sequence[AudioInfo], rate: int, folder: Path) -> None:
    """Warn once when training recordings were made below the model's rate: the model would
    learn that its top band is empty, and full-band recordings would score as anomalous."""
    low = [info for info in infos if info.sample_rate < rate]
    if not low:
        return
    lowest = min(info.sample_rate for info in low)
    warnings.warn(
        BandLimitedWarning(
            f"{len(low)} of the {len(infos)} training recordings in {folder / 'train'} were "
            f"recorded below the model's {rate} Hz (the first: {low[0].path.name} at "
            f"{low[0].sample_rate} Hz): the model learns that nothing lies above {lowest // 2} "
            f"Hz, so recordings of the full band will score high. Record at {rate} Hz, or "
            f"train at their rate: --set feat.sample_rate={lowest}."
        ),
        stacklevel=2,
    )


def _fitting_batch(segments: int) -> int:
    """The largest power of two not above ``segments``."""
    return 1 << (max(segments, 1).bit_length() - 1)


def own_inputs(
    cfg: Config, data: OwnData, progress: Progress = no_progress, with_test: bool = True
) -> tuple[list[FeatureSet], FeatureSet | None]:
    """The training features and, when DIR/test exists, the labelled test features.

    Every folder is listed and checked before any feature is computed, so a bad
    test folder fails fast and caches nothing.
    """
    clips = data.train_clips(cfg.year, cfg.machine)
    test_clips = data.test_clips(cfg.year, cfg.machine) if with_test and data.has_test else []
    check_audio_amount(clips, cfg, data.folder)
    train, _ = load_or_compute(clips, cfg.feat, data.set_name("train"), progress)
    test = None
    if test_clips:
        test, _ = load_or_compute(test_clips, cfg.feat, data.set_name("test"), progress)
    return [train], test


def check_init(cfg: Config, init: str) -> None:
    """Refuse starting weights of another architecture, naming the settings that differ."""
    _require_same_network(cfg, Detector.load_config(init), init)


def _require_same_network(cfg: Config, theirs: Config, init: str) -> None:
    mine, other = flatten(to_dict(cfg.net)), flatten(to_dict(theirs.net))
    differ = [f"net.{k} ({other[k]} there, {mine[k]} here)" for k in mine if mine[k] != other[k]]
    if differ:
        raise UsageError(
            f"--init {init}: its network differs from this run's: {', '.join(differ)}.",
            f"Train with its settings (--recipe {init}, or leave --recipe out), or start from "
            "a model with the same network.",
        )


def initial_networks(cfg: Config, init: str | None) -> tuple[Generator, Discriminator]:
    """Fresh networks (the same random draws as always), holding --init's weights if given."""
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    if init is not None:
        start = Detector.load(init)
        _require_same_network(cfg, start.cfg, init)
        generator.load_state_dict(start.generator.state_dict())
        discriminator.load_state_dict(start.discriminator.state_dict())
    return generator, discriminator
