"""One typed config for every command: per-year defaults, the published recipes,
YAML files and ``--set key=value`` overrides, checked key by key.

Precedence, lowest first: year defaults, the machine's published recipe (both
``recipes.yaml``), a ``--config`` YAML file, then each ``--set`` in order. The
dotted keys and YAML reading are ``aegan.config.keys``; user-level settings
(where the data lives, the default device, download mirrors) live apart in
``aegan.config.settings``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aegan.config.keys import flatten, parse_override, read_yaml, set_key, to_dict
from aegan.config.recipes import recipe, year_defaults
from aegan.dcase.clips import TRAIN_SETS
from aegan.dcase.facts import MachineType, parse_year, short_year
from aegan.errors import ConfigError
from aegan.score_names import SCORE_NAMES

NORMS = ("ln", "bn", "in")
ACTIVATIONS = ("leakyrelu", "relu", "tanh")
SELECTIONS = ("paper", "last")
PRECISIONS = ("fp32", "bf16")
MIN_ISIZE = 16
"""The smallest network input side (net.isize); the networks check the same bound."""


@dataclass
class FeatureConfig:
    """Log-mel settings (docs/method.md section 2); the model input is n_mels x segment_frames."""

    sample_rate: int = 16000
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    top_db: float = 80.0
    segment_frames: int = 128
    segment_hop: int = 1


@dataclass
class NetConfig:
    """Network hyper-parameters (docs/method.md section 3)."""

    isize: int = 128
    nz: int = 256
    ndf: int = 32
    ngf: int = 32
    act_enc: str = "leakyrelu"
    act_dec: str = "relu"
    norm_g: str = "ln"
    norm_d: str = "ln"
    first_norm: bool = True


@dataclass
class TrainConfig:
    """WGAN-GP training with feature matching (docs/method.md section 4)."""

    epochs: int = 60
    batch_size: int = 512
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    feat_match_eff: float = 0.1
    match_mu: float = 1.0
    match_sigma: float = 0.0
    ncritic: int = 1
    lambda_gp: float = 10.0
    seed: int = 783
    select: str = "paper"
    precision: str = "fp32"
    compile: bool = False


@dataclass
class DetectConfig:
    """Scoring and decisions: the chosen score, pAUC range, decision threshold."""

    score: str = "G_z_1_sum"
    max_fpr: float = 0.1
    threshold_quantile: float = 0.9


@dataclass
class Config:
    year: int
    machine: str
    train_set: str = "dev"
    feat: FeatureConfig = field(default_factory=FeatureConfig)
    net: NetConfig = field(default_factory=NetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)

    @property
    def short_year(self) -> str:
        return short_year(self.year)


# ---------------------------------------------------------------- model config


def base_config(machine: MachineType) -> Config:
    """Year defaults plus the machine's recipe (published or borrowed: ``recipes.recipe_origin``)."""
    cfg = Config(year=machine.year, machine=machine.name)
    for key, value in {**year_defaults(machine.year), **recipe(machine)}.items():
        set_key(cfg, key, value)
    return cfg


def apply(cfg: Config, values: Mapping[str, Any], source: str) -> Config:
    """Apply dotted-key values (from a file or --set) to a config."""
    for key, value in values.items():
        if key in ("year", "machine"):
            given = (
                parse_year(value) if key == "year" else MachineType.parse(cfg.year, str(value)).name
            )
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
) -> Config:
    """The effective config of a command: defaults, recipe, --config, then --set.

    ``year`` and ``machine`` are parsed here (``22``, ``"toycar"``), as a user gives them.
    """
    return apply_sources(base_config(MachineType.parse(year, machine)), config_file, overrides)


def apply_sources(cfg: Config, config_file: Path | None, overrides: Iterable[str]) -> Config:
    """A --config file, then each --set in order, applied to ``cfg``; then checked."""
    if config_file is not None:
        apply(cfg, flatten(read_yaml(config_file)), f"Config file {config_file}")
    for text in overrides:
        key, value = parse_override(text)
        apply(cfg, {key: value}, "--set")
    validate(cfg)
    return cfg


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


def _require_choice(key: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"Config key {key!r} must be one of {', '.join(choices)}; got {value!r}.")


def validate(cfg: Config) -> None:
    """Checks that span keys: choices, sizes that the networks can be built with."""
    _require_choice("train_set", cfg.train_set, TRAIN_SETS)
    _require_choice("net.norm_g", cfg.net.norm_g, NORMS)
    _require_choice("net.norm_d", cfg.net.norm_d, NORMS)
    _require_choice("net.act_enc", cfg.net.act_enc, ACTIVATIONS)
    _require_choice("net.act_dec", cfg.net.act_dec, ACTIVATIONS)
    _require_choice("train.select", cfg.train.select, SELECTIONS)
    _require_choice("train.precision", cfg.train.precision, PRECISIONS)
    _require_choice("detect.score", cfg.detect.score, SCORE_NAMES)
    isize = cfg.net.isize
    if isize < MIN_ISIZE or isize & (isize - 1):
        raise ConfigError(f"net.isize must be a power of two >= {MIN_ISIZE}; got {isize}.")
    if cfg.feat.n_mels != isize or cfg.feat.segment_frames != isize:
        raise ConfigError(
            f"The model input is isize x isize, so feat.n_mels ({cfg.feat.n_mels}) and "
            f"feat.segment_frames ({cfg.feat.segment_frames}) must equal net.isize ({isize}).",
            "Set all three together, e.g. --set net.isize=64 --set feat.n_mels=64 "
            "--set feat.segment_frames=64.",
        )
    positive = {
        "feat.sample_rate": cfg.feat.sample_rate, "feat.n_fft": cfg.feat.n_fft,
        "feat.hop_length": cfg.feat.hop_length, "feat.segment_hop": cfg.feat.segment_hop,
        "net.nz": cfg.net.nz, "net.ndf": cfg.net.ndf, "net.ngf": cfg.net.ngf,
        "train.epochs": cfg.train.epochs, "train.batch_size": cfg.train.batch_size,
        "train.ncritic": cfg.train.ncritic, "train.lr_d": cfg.train.lr_d,
        "train.lr_g": cfg.train.lr_g,
    }  # fmt: skip
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"Config key {key!r} must be positive; got {value}.")
    if not 0 < cfg.detect.max_fpr <= 1:
        raise ConfigError(f"detect.max_fpr must be in (0, 1]; got {cfg.detect.max_fpr}.")
    if not 0 < cfg.detect.threshold_quantile < 1:
        raise ConfigError(
            f"detect.threshold_quantile must be in (0, 1); got {cfg.detect.threshold_quantile}."
        )
    if not 0 <= cfg.train.beta1 < 1 or not 0 <= cfg.train.beta2 < 1:
        raise ConfigError("train.beta1 and train.beta2 must be in [0, 1).")


def config_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
