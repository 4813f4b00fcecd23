"""One typed config for every command: per-year defaults, the published recipes,
YAML files and ``--set key=value`` overrides, checked key by key.

Precedence, lowest first: year defaults, the machine's published recipe (both
``recipes.yaml``), a ``--config`` YAML file, then each ``--set`` in order. The
dotted keys and YAML reading are ``aegan.config.keys``; user-level settings
(where the data lives, the default device, download mirrors) live apart in
``aegan.config.settings``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aegan.config import original
from aegan.config.keys import (
    Check,
    checked,
    flatten,
    parse_override,
    read_yaml,
    set_key,
    to_dict,
    within,
)
from aegan.config.recipes import recipe, year_defaults
from aegan.dcase.clips import TRAIN_SETS
from aegan.dcase.facts import MachineType, edition, parse_year, short_year
from aegan.errors import ConfigError, UsageError, did_you_mean
from aegan.score_names import SCORE_NAMES

NORMS = ("ln", "bn", "in")
ACTIVATIONS = ("leakyrelu", "relu", "tanh")
SELECTIONS = ("paper", "last")
PRECISIONS = ("fp32", "bf16")
MIN_ISIZE = 16
"""The smallest network input side (net.isize); the networks check the same bound."""


def one_of(choices: Iterable[str]) -> dict[str, Check]:
    """Field metadata allowing only ``choices``."""
    allowed = tuple(choices)

    def check(key: str, value: Any) -> None:
        if value not in allowed:
            raise ConfigError(
                f"Config key {key!r} must be one of {', '.join(allowed)}; got {value!r}.",
                did_you_mean(str(value), allowed),
            )

    return checked(check)


def _num(default: float, low: float | None = None, high: float | None = None, **kw: bool) -> Any:
    """A numeric field and its allowed range (``within``)."""
    return field(default=default, metadata=within(low, high, **kw))


POSITIVE = {"low_open": True}
SEED_MAX = 2**32 - 1
"""numpy's legacy seeding takes [0, 2**32); torch takes more."""


MIX = "mix"
"""``feat.channel`` value for the mean of all channels (the mono mix librosa makes)."""
Channel = int | str
"""``feat.channel``: ``MIX`` or a channel index (0 is the first, the left one)."""
MAX_CHANNEL = 255
"""The highest channel index ``feat.channel`` takes (WAV holds at most 65535 channels; no
recording a model scores has more than a few)."""


def _check_channel(key: str, value: Any) -> None:
    if value == MIX or (isinstance(value, int) and 0 <= value <= MAX_CHANNEL):
        return
    raise ConfigError(
        f"Config key {key!r} must be {MIX!r} (the mean of the channels) or a channel index "
        f"from 0 to {MAX_CHANNEL}; got {value!r}.",
        "E.g. --set feat.channel=0 for the first (left) channel, --set feat.channel=mix.",
    )


@dataclass
class FeatureConfig:
    """Log-mel settings (docs/method.md section 2); the model input is n_mels x segment_frames.

    ``channel`` is what a model hears of a multi-channel recording: the mean of the
    channels (``mix``) or one of them (DCASE 2026: 0, the near microphone).
    """

    sample_rate: int = _num(16000, 1000, 384000)
    n_fft: int = _num(2048, 2, 65536)
    hop_length: int = _num(512, 1, 65536)
    n_mels: int = _num(128, 1, 1024)
    top_db: float = _num(80.0, 0, **POSITIVE)
    segment_frames: int = _num(128, 1, 1024)
    segment_hop: int = _num(1, 1, 1024)
    channel: Channel = field(default=MIX, metadata=checked(_check_channel))


@dataclass
class NetConfig:
    """Network hyper-parameters (docs/method.md section 3)."""

    isize: int = _num(128, MIN_ISIZE, 1024)
    nz: int = _num(256, 1, 65536)
    ndf: int = _num(32, 1, 4096)
    ngf: int = _num(32, 1, 4096)
    act_enc: str = field(default="leakyrelu", metadata=one_of(ACTIVATIONS))
    act_dec: str = field(default="relu", metadata=one_of(ACTIVATIONS))
    norm_g: str = field(default="ln", metadata=one_of(NORMS))
    norm_d: str = field(default="ln", metadata=one_of(NORMS))
    first_norm: bool = True


@dataclass
class TrainConfig:
    """WGAN-GP training with feature matching (docs/method.md section 4)."""

    epochs: int = _num(60, 1, 100000)
    batch_size: int = _num(512, 1, 2**20)
    lr_d: float = _num(2e-4, 0, **POSITIVE)
    lr_g: float = _num(2e-4, 0, **POSITIVE)
    beta1: float = _num(0.5, 0, 1, high_open=True)
    beta2: float = _num(0.999, 0, 1, high_open=True)
    feat_match_eff: float = _num(0.1, 0)
    match_mu: float = _num(1.0, 0)
    match_sigma: float = _num(0.0, 0)
    ncritic: int = _num(1, 1, 100)
    lambda_gp: float = _num(10.0, 0)
    seed: int = _num(783, 0, SEED_MAX)
    select: str = field(default="paper", metadata=one_of(SELECTIONS))
    precision: str = field(default="fp32", metadata=one_of(PRECISIONS))
    compile: bool = False


@dataclass
class DetectConfig:
    """Scoring and decisions: the chosen score, pAUC range, decision threshold."""

    score: str = field(default="G_z_1_sum", metadata=one_of(SCORE_NAMES))
    max_fpr: float = _num(0.1, 0, 1, low_open=True)
    threshold_quantile: float = _num(0.9, 0, 1, low_open=True, high_open=True)


@dataclass
class Config:
    year: int
    machine: str
    train_set: str = field(default="dev", metadata=one_of(TRAIN_SETS))
    feat: FeatureConfig = field(default_factory=FeatureConfig)
    net: NetConfig = field(default_factory=NetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)

    @property
    def short_year(self) -> str:
        return short_year(self.year)


# ---------------------------------------------------------------- model config


def base_config(machine: MachineType) -> Config:
    """Year defaults plus the machine's recipe (published or borrowed: ``recipes.recipe_origin``).

    An edition of multi-channel clips reads its near microphone (``facts.yaml``).
    """
    cfg = Config(year=machine.year, machine=machine.name)
    cfg.feat.channel = edition(machine.year).microphones.get("near", MIX)
    for key, value in {**year_defaults(machine.year), **recipe(machine)}.items():
        set_key(cfg, key, value)
    return cfg


def apply(cfg: Config, values: Mapping[str, Any], source: str) -> Config:
    """Apply dotted-key values (from a file or --set) to a config."""
    for key, value in values.items():
        if key in ("year", "machine"):
            try:
                given = (
                    parse_year(value)
                    if key == "year"
                    else MachineType.parse(cfg.year, str(value)).name
                )
            except UsageError as exc:
                raise ConfigError(f"{source}: {exc.message}", exc.hint) from None
            if given != getattr(cfg, key):
                raise ConfigError(
                    f"{source} is for {key} {value!r}, but this command is for {getattr(cfg, key)!r}.",
                    f"Remove the {key!r} key or run the command for {value!r}.",
                )
            continue
        set_key(cfg, key, value, Config)
    return cfg


def load_config(
    year: int | str,
    machine: str,
    config_file: Path | None = None,
    overrides: Iterable[str] = (),
    notes: Callable[[str], None] | None = None,
) -> Config:
    """The effective config of a command: defaults, recipe, --config, then --set.

    ``year`` and ``machine`` are parsed here (``22``, ``"toycar"``), as a user gives them.
    """
    machine_type = MachineType.parse(year, machine)
    return apply_sources(base_config(machine_type), config_file, overrides, notes)


def apply_sources(
    cfg: Config,
    config_file: Path | None,
    overrides: Iterable[str],
    notes: Callable[[str], None] | None = None,
) -> Config:
    """A --config file, then each --set in order, applied to ``cfg``; then checked.

    The file may be one of the original AEGAN-AD code (``config.original``); what
    it holds that aegan does not use is told to ``notes``, one sentence each.
    """
    if config_file is not None:
        source = f"Config file {config_file}"
        values, unused = original.translate(read_yaml(config_file), source)
        apply(cfg, values, source)
        for note in unused:
            (notes or _ignore)(note)
    for text in overrides:
        key, value = parse_override(text)
        apply(cfg, {key: value}, "--set")
    validate(cfg)
    return cfg


def _ignore(_note: str) -> None:
    """Notes nobody asked for."""


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Rebuild a config saved with ``to_dict`` (e.g. from a model bundle)."""
    flat = flatten(data)
    try:
        year, machine = flat.pop("year"), flat.pop("machine")
    except KeyError as exc:
        raise ConfigError(f"Saved config lacks the key {exc.args[0]!r}.") from None
    kind = MachineType.parse(year, str(machine))
    cfg = Config(year=kind.year, machine=kind.name)
    apply(cfg, flat, "Saved config")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Checks that span keys: sizes that the networks can be built with (each key's own
    type and range were checked when it was set)."""
    isize = cfg.net.isize
    if isize & (isize - 1):
        raise ConfigError(f"net.isize must be a power of two >= {MIN_ISIZE}; got {isize}.")
    if cfg.feat.n_mels != isize or cfg.feat.segment_frames != isize:
        raise ConfigError(
            f"The model input is isize x isize, so feat.n_mels ({cfg.feat.n_mels}) and "
            f"feat.segment_frames ({cfg.feat.segment_frames}) must equal net.isize ({isize}).",
            "Set all three together, e.g. --set net.isize=64 --set feat.n_mels=64 "
            "--set feat.segment_frames=64.",
        )
    if cfg.feat.hop_length > cfg.feat.n_fft:
        raise ConfigError(
            f"feat.hop_length ({cfg.feat.hop_length}) must not exceed feat.n_fft "
            f"({cfg.feat.n_fft}): frames would skip samples."
        )


def config_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
