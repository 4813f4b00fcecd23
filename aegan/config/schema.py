"""One typed config for every command: per-year defaults, the published recipes,
YAML files and ``--set key=value`` overrides, checked key by key.

Precedence, lowest first: year defaults, the machine's published recipe, a
``--config`` YAML file, then each ``--set`` in order. User-level settings (where
the data lives, the default device, download mirrors) live apart in
``Settings``, read from the user config file.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aegan import paths
from aegan.dcase.clips import TRAIN_SETS, canonical_machine, normalize_year
from aegan.errors import ConfigError
from aegan.score_names import SCORE_NAMES

NORMS = ("ln", "bn", "in")
ACTIVATIONS = ("leakyrelu", "relu", "tanh")
SELECTIONS = ("paper", "last")
PRECISIONS = ("fp32", "bf16")

# Machines whose published generator drops the norm after the first convolution.
NO_FIRST_NORM_2022 = ("bearing", "fan", "ToyCar")


@dataclass
class FeatureConfig:
    """Log-mel settings (SPEC section 2); the model input is n_mels x segment_frames."""

    sample_rate: int = 16000
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    top_db: float = 80.0
    segment_frames: int = 128
    segment_hop: int = 1


@dataclass
class NetConfig:
    """Network hyper-parameters (SPEC section 3)."""

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
    """WGAN-GP training with feature matching (SPEC section 4)."""

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
        return str(self.year)[2:]


# Published recipes (SPEC section 4) and the published best score (SPEC section 7).
RECIPES: dict[tuple[int, str], dict[str, Any]] = {
    (2020, "fan"): {"train_set": "dev", "train.feat_match_eff": 1.0, "detect.score": "D_lof"},
    (2020, "pump"): {"train_set": "deval", "train.feat_match_eff": 1.0,
                     "train.match_sigma": 1.0, "detect.score": "D_lof"},
    (2020, "slider"): {"train_set": "deval", "train.feat_match_eff": 1.0, "net.norm_g": "bn",
                       "detect.score": "G_x_2_sum"},
    (2020, "valve"): {"train_set": "deval", "train.feat_match_eff": 0.05, "net.norm_g": "bn",
                      "detect.score": "G_z_cos_sum"},
    (2020, "ToyCar"): {"train_set": "deval", "train.feat_match_eff": 1.0,
                       "train.match_sigma": 1.0, "detect.score": "D_knn"},
    (2020, "ToyConveyor"): {"train_set": "deval", "train.feat_match_eff": 0.05,
                            "detect.score": "G_z_2_min"},
    (2022, "bearing"): {"train_set": "deval", "detect.score": "G_z_1_sum"},
    (2022, "fan"): {"train_set": "deval", "detect.score": "G_z_cos_min"},
    (2022, "gearbox"): {"train_set": "dev", "net.norm_g": "bn", "train.match_sigma": 1.0,
                        "detect.score": "G_z_cos_min"},
    (2022, "slider"): {"train_set": "dev", "detect.score": "D_lof"},
    (2022, "ToyCar"): {"train_set": "dev", "train.beta1": 0.0, "detect.score": "G_z_1_sum"},
}  # fmt: skip

YEAR_DEFAULTS: dict[int, dict[str, Any]] = {
    2020: {"train.epochs": 50, "train.feat_match_eff": 1.0, "detect.score": "D_lof"},
    2022: {"train.epochs": 60, "train.feat_match_eff": 0.1, "detect.score": "G_z_1_sum"},
}


# ---------------------------------------------------------------- typed access


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Convert a YAML or command-line value to a field's type, or say which key is wrong."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "")):
            return None
        return _coerce(value, args[0], key)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "on", "1"):
                return True
            if text in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        raise ConfigError(f"Config key {key!r} has an unsupported type.")  # pragma: no cover
    type_name = getattr(kind, "__name__", str(kind))
    raise ConfigError(
        f"Config key {key!r} must be of type {type_name}, got {value!r}.",
        "Fix the value in the config file or in --set.",
    )


def _section_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(kind: Any) -> bool:
    return dataclasses.is_dataclass(kind)


def known_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key a config class accepts (for messages and completion)."""
    keys: list[str] = []
    for name, kind in _section_types(cls).items():
        if _is_section(kind):
            keys.extend(known_keys(kind, f"{prefix}{name}."))
        else:
            keys.append(prefix + name)
    return keys


def set_key(obj: Any, key: str, value: Any, root_cls: type | None = None) -> None:
    """Set a dotted key on a config object, converting and checking the value."""
    parts = key.split(".")
    target = obj
    for part in parts[:-1]:
        types = _section_types(type(target))
        if part not in types or not _is_section(types[part]):
            _unknown_key(key, root_cls or type(obj))
        target = getattr(target, part)
    types = _section_types(type(target))
    name = parts[-1]
    if name not in types or _is_section(types[name]):
        _unknown_key(key, root_cls or type(obj))
    setattr(target, name, _coerce(value, types[name], key))


def _unknown_key(key: str, cls: type) -> typing.NoReturn:
    keys = known_keys(cls)
    close = difflib.get_close_matches(key, keys, n=3)
    hint = f"Did you mean {', '.join(close)}?" if close else f"Known keys: {', '.join(keys)}."
    raise ConfigError(f"Unknown config key {key!r}.", hint)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML mapping to dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` from --set; the value is read as YAML (so lists and null work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"Cannot read --set {text!r}.", "Write it as key=value, e.g. --set train.epochs=10."
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def read_yaml(path: Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"Config file {path} does not exist.", "Check the path given to --config."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"Config file {path} must hold a mapping of keys to values.")
    return dict(data)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


# ---------------------------------------------------------------- model config


def base_config(year: int | str, machine: str) -> Config:
    """Year defaults plus the machine's published recipe."""
    year = normalize_year(year)
    machine = canonical_machine(year, machine)
    cfg = Config(year=year, machine=machine)
    cfg.net.first_norm = not (year == 2022 and machine in NO_FIRST_NORM_2022)
    for key, value in YEAR_DEFAULTS[year].items():
        set_key(cfg, key, value)
    for key, value in RECIPES.get((year, machine), {}).items():
        set_key(cfg, key, value)
    return cfg


def apply(cfg: Config, values: Mapping[str, Any], source: str) -> Config:
    """Apply dotted-key values (from a file or --set) to a config."""
    for key, value in values.items():
        if key in ("year", "machine"):
            given = normalize_year(value) if key == "year" else canonical_machine(cfg.year, value)
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
    """The effective config of a command: defaults, recipe, --config, then --set."""
    return apply_sources(base_config(year, machine), config_file, overrides)


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
        cfg = Config(year=normalize_year(flat.pop("year")), machine=str(flat.pop("machine")))
    except KeyError as exc:
        raise ConfigError(f"Saved config lacks the key {exc.args[0]!r}.") from None
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
    if isize < 16 or isize & (isize - 1):
        raise ConfigError(f"net.isize must be a power of two >= 16; got {isize}.")
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


# ---------------------------------------------------------------- user settings


@dataclass
class DataSettings:
    """Dataset roots per year (each holds dev_data/ and eval_data/)."""

    root20: str | None = None
    root22: str | None = None


@dataclass
class HubSettings:
    """Where checkpoints and data come from; a mirror can replace each."""

    seafile_url: str = "https://cloud.tsinghua.edu.cn"
    seafile_token: str = "3d4ddf315bcf41078e07"
    zenodo_url: str = "https://zenodo.org"
    timeout: float = 30.0
    retries: int = 3


@dataclass
class Settings:
    device: str = "auto"
    data: DataSettings = field(default_factory=DataSettings)
    hub: HubSettings = field(default_factory=HubSettings)

    def data_root(self, year: int) -> Path | None:
        """The configured root for a year, else the download folder if it exists."""
        configured = getattr(self.data, f"root{str(year)[2:]}")
        if configured:
            return Path(configured).expanduser()
        fetched = paths.dcase_data_dir(year)
        return fetched if fetched.is_dir() else None


def load_settings(path: Path | None = None) -> Settings:
    """The user settings file, or defaults when there is none."""
    path = path or paths.user_config_file()
    settings = Settings()
    if path.is_file():
        for key, value in flatten(read_yaml(path)).items():
            set_key(settings, key, value, Settings)
    return settings


def save_setting(key: str, value: str, path: Path | None = None) -> Settings:
    """Set one key in the user settings file (checked), keeping the others."""
    path = path or paths.user_config_file()
    settings = load_settings(path)
    set_key(settings, key, parse_override(f"{key}={value}")[1], Settings)
    paths.write_text_atomic(path, yaml.safe_dump(to_dict(settings), sort_keys=False))
    return settings
