"""User settings: where the data lives, the default device, and where downloads come from.

They live in the user config file (``aegan config path``), apart from the model
config, and are edited with ``aegan config set KEY VALUE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from aegan import paths
from aegan.config.device_spec import DEVICE_WORDS, parse_device_spec
from aegan.config.keys import checked, flatten, parse_override, read_yaml, set_key, to_dict, within
from aegan.dcase.facts import YEARS, short_year
from aegan.errors import ConfigError

GB = 1024**3


def check_url(key: str, value: Any) -> None:
    """A mirror must be an http(s) URL with a host; anything else fails on first download."""
    try:
        parts = urlsplit(str(value))
        host, _ = parts.hostname, parts.port  # .port raises on a malformed port
    except ValueError as exc:
        host, parts, reason = None, None, str(exc)
    else:
        reason = "it has no host" if not host else "its scheme is not http or https"
    if parts is None or not host or parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"Setting {key!r} must be an http(s) URL such as https://zenodo.org; "
            f"got {value!r} ({reason}).",
            f"Fix it with: aegan config set {key} https://HOST",
        )


def check_device(key: str, value: Any) -> None:
    try:
        parse_device_spec(str(value))
    except ValueError:
        raise ConfigError(
            f"Setting {key!r} must be {DEVICE_WORDS}; got {value!r}.",
            f"Fix it with: aegan config set {key} auto",
        ) from None


DataSettings = make_dataclass(
    "DataSettings",
    [(f"root{short_year(year)}", str | None, field(default=None)) for year in YEARS],
)
DataSettings.__module__ = __name__
DataSettings.__doc__ = "Dataset roots per year, ``root22`` (each holds dev_data/ and eval_data/)."


@dataclass
class HubSettings:
    """Where checkpoints and data come from; a mirror can replace each host."""

    seafile_url: str = field(default="https://cloud.tsinghua.edu.cn", metadata=checked(check_url))
    seafile_token: str = "3d4ddf315bcf41078e07"
    zenodo_url: str = field(default="https://zenodo.org", metadata=checked(check_url))
    github_url: str = field(default="https://github.com", metadata=checked(check_url))
    github_raw_url: str = field(
        default="https://raw.githubusercontent.com", metadata=checked(check_url)
    )
    timeout: float = field(default=30.0, metadata=within(0, 3600, low_open=True))
    retries: int = field(default=3, metadata=within(0, 100))


@dataclass
class CacheSettings:
    """Limits of what aegan keeps in its cache folder."""

    features_max_gb: float = field(default=20.0, metadata=within(0, low_open=True))
    """The feature cache is trimmed (least recently used first) to stay under this size."""


@dataclass
class Settings:
    device: str = field(default="auto", metadata=checked(check_device))
    data: DataSettings = field(default_factory=DataSettings)
    hub: HubSettings = field(default_factory=HubSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)


def _reset_hint(path: Path) -> str:
    return (
        "Repair it with `aegan config set KEY VALUE` (it drops what is unusable), "
        f"or delete {path} to go back to the defaults."
    )


def load_settings(path: Path | None = None) -> Settings:
    """The user settings file, or defaults when there is none; every value checked."""
    path = path or paths.user_config_file()
    settings = Settings()
    if path.is_file():
        try:
            for key, value in flatten(read_yaml(path)).items():
                set_key(settings, key, value, Settings)
        except ConfigError as exc:
            named = exc.message if str(path) in exc.message else f"{path}: {exc.message}"
            raise ConfigError(
                f"The settings file is unusable. {named}", _reset_hint(path)
            ) from None
    return settings


def _load_repairing(path: Path) -> tuple[Settings, dict[str, str]]:
    """The settings file with what is unusable in it left out, and a note per key left out
    (under "" for the whole file).

    ``aegan config set`` must work on a broken file: it is how the user repairs it.
    An unreadable file is kept beside as ``<name>.broken`` before it is replaced.
    """
    settings = Settings()
    if not path.is_file():
        return settings, {}
    try:
        values = flatten(read_yaml(path))
    except ConfigError as exc:
        backup = path.with_name(path.name + ".broken")
        paths.write_text_atomic(backup, path.read_text(encoding="utf-8", errors="replace"))
        return settings, {"": f"{exc.message} It was saved as {backup}; its keys are reset."}
    notes = {}
    for key, value in values.items():
        try:
            set_key(settings, key, value, Settings)
        except ConfigError as exc:
            notes[key] = f"Dropped from {path}: {exc.message}"
    return settings, notes


def save_setting(key: str, value: str, path: Path | None = None) -> list[str]:
    """Set one key in the user settings file (checked), keeping the other usable keys.

    Returns notes on what was unusable in the file and has been dropped.
    """
    path = path or paths.user_config_file()
    settings, notes = _load_repairing(path)
    try:
        set_key(settings, key, parse_override(f"{key}={value}")[1], Settings)
    except ConfigError as exc:
        raise ConfigError(exc.message, _example(key) or exc.hint) from None
    paths.write_text_atomic(path, yaml.safe_dump(to_dict(settings), sort_keys=False))
    return [note for dropped, note in notes.items() if dropped != key]


def _example(key: str) -> str | None:
    """How to set ``key`` back to its default, when it has one."""
    default: Any = Settings()
    for part in key.split("."):
        default = getattr(default, part, None)
    if default is None or not isinstance(default, (str, int, float)):
        return None
    return f"Its default: aegan config set {key} {default}"


def features_max_bytes() -> int:
    """The feature cache size limit in bytes (setting ``cache.features_max_gb``)."""
    return int(load_settings().cache.features_max_gb * GB)


def data_root(
    year: int,
    given: Path | str | None = None,
    settings: Settings | None = None,
    *,
    download: bool = False,
) -> Path | None:
    """Where a year's DCASE data is: ``given`` (--data-dir), else the user settings' root
    for the year (``data.root22``), else the download folder when it exists.

    With ``download`` the download folder is returned even when it does not exist
    yet (where ``aegan fetch`` puts the data); otherwise None says no root is known.
    """
    if given is not None:
        return Path(given).expanduser()
    settings = settings or load_settings()
    configured = getattr(settings.data, f"root{short_year(year)}", None)
    if configured:
        return Path(configured).expanduser()
    fetched = paths.dcase_data_dir(year)
    return fetched if download or fetched.is_dir() else None
