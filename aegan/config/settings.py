"""User settings: where the data lives, the default device, and where downloads come from.

They live in the user config file (``aegan config path``), apart from the model
config, and are edited with ``aegan config set KEY VALUE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from pathlib import Path

import yaml

from aegan import paths
from aegan.config.keys import flatten, parse_override, read_yaml, set_key, to_dict
from aegan.dcase.facts import YEARS, short_year

DataSettings = make_dataclass(
    "DataSettings",
    [(f"root{short_year(year)}", str | None, field(default=None)) for year in YEARS],
)
DataSettings.__module__ = __name__
DataSettings.__doc__ = "Dataset roots per year, ``root22`` (each holds dev_data/ and eval_data/)."


@dataclass
class HubSettings:
    """Where checkpoints and data come from; a mirror can replace each host."""

    seafile_url: str = "https://cloud.tsinghua.edu.cn"
    seafile_token: str = "3d4ddf315bcf41078e07"
    zenodo_url: str = "https://zenodo.org"
    github_url: str = "https://github.com"
    github_raw_url: str = "https://raw.githubusercontent.com"
    timeout: float = 30.0
    retries: int = 3


@dataclass
class Settings:
    device: str = "auto"
    data: DataSettings = field(default_factory=DataSettings)
    hub: HubSettings = field(default_factory=HubSettings)


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
