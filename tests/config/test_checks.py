"""Every key is checked for type, range and finiteness when it is set, whatever the source."""

from __future__ import annotations

import dataclasses
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan import paths
from aegan.config import schema as config
from aegan.config import settings as user_settings
from aegan.config.keys import flatten, within
from aegan.errors import ConfigError


def _numeric_keys(cls: type) -> list[str]:
    """The int and float keys of a config class (year and machine are parsed apart)."""
    cfg = cls(2022, "fan") if cls is config.Config else cls()
    flat = flatten(dataclasses.asdict(cfg))
    return [k for k, v in flat.items() if type(v) in (int, float) and k != "year"]


@pytest.mark.parametrize("key", _numeric_keys(config.Config))
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "-1e400", "1e999999"])
def test_no_config_key_takes_a_non_finite_or_absurd_number(key: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.load_config(22, "fan", overrides=[f"{key}={bad}"])


@pytest.mark.parametrize("key", _numeric_keys(user_settings.Settings))
@pytest.mark.parametrize("bad", ["nan", "inf", "-5", "-1e400"])
def test_no_setting_takes_a_non_finite_or_negative_number(key: str, bad: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        user_settings.save_setting(key, bad)
    assert not paths.user_config_file().exists()  # nothing written


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(-1e6, 1e6),
    width=st.floats(0, 1e6),
    value=st.floats(allow_nan=False, allow_infinity=False),
    low_open=st.booleans(),
    high_open=st.booleans(),
)
def test_within_accepts_exactly_its_interval(
    low: float, width: float, value: float, low_open: bool, high_open: bool
) -> None:
    high = low + width
    check = within(low, high, low_open=low_open, high_open=high_open)["check"]
    inside = (low < value if low_open else low <= value) and (
        value < high if high_open else value <= high
    )
    if inside:
        check("k", value)
    else:
        with pytest.raises(ConfigError, match=r"Config key 'k' must be in [\[(]"):
            check("k", value)


def test_bounds_are_written_as_a_user_writes_them() -> None:
    with pytest.raises(ConfigError, match=r"must be in \[0, 4294967295\]; got 4294967296\."):
        config.load_config(22, "fan", overrides=[f"train.seed={2**32}"])
    assert config.load_config(22, "fan", overrides=[f"train.seed={2**32 - 1}"]).train.seed
    with pytest.raises(ConfigError, match=r"'feat\.hop_length' must be >= 1|hop_length"):
        config.load_config(22, "fan", overrides=["feat.hop_length=0"])
    with pytest.raises(ConfigError, match=r"feat\.hop_length \(4096\) must not exceed"):
        config.load_config(22, "fan", overrides=["feat.hop_length=4096"])


def test_a_saved_config_goes_through_the_same_checks() -> None:
    saved = config.to_dict(config.load_config(22, "fan"))
    saved["detect"]["max_fpr"] = math.inf
    with pytest.raises(ConfigError, match=r"'detect\.max_fpr' must be a finite number"):
        config.config_from_dict(saved)
    saved["detect"]["max_fpr"] = 0.1
    saved["net"]["norm_g"] = "lnn"
    with pytest.raises(ConfigError, match=r"must be one of ln, bn, in; got 'lnn'") as caught:
        config.config_from_dict(saved)
    assert caught.value.hint == "Did you mean ln?"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "it has no host"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("ftp://mirror.org", "its scheme is not http or https"),
        ("https://host:port", "Port could not be cast"),
        ("https://", "it has no host"),
    ],
)
def test_a_mirror_must_be_an_http_url(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        user_settings.save_setting("hub.zenodo_url", url)
    assert "aegan config set hub.zenodo_url https://zenodo.org" in caught.value.hint
    for good in ("http://127.0.0.1:8080", "https://[::1]:443/mirror"):
        user_settings.save_setting("hub.zenodo_url", good)
        assert user_settings.load_settings().hub.zenodo_url == good


@pytest.mark.parametrize("device", ["auto", "cpu", "0", "0,1", "CUDA:1"])
def test_device_setting_takes_what_gpu_takes(device: str) -> None:
    user_settings.save_setting("device", device)
    assert user_settings.load_settings().device == device


def test_device_setting_refuses_anything_else() -> None:
    with pytest.raises(ConfigError, match=r"'device' must be auto, cpu, .*got 'None'"):
        user_settings.save_setting("device", "None")


def test_a_bad_device_in_the_settings_file_is_named_as_the_setting() -> None:
    from aegan import paths
    from aegan.model.devices import resolve_device

    paths.user_config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.user_config_file().write_text("device: gpu0\n")
    with pytest.raises(ConfigError, match=r"'device' must be auto, cpu.*got 'gpu0'") as caught:
        resolve_device()  # the default comes from the settings file
    assert "aegan config set" in caught.value.hint and "config.yaml" in caught.value.hint


def test_a_bad_device_choice_names_the_grammar() -> None:
    from aegan.errors import UsageError
    from aegan.model.devices import resolve_device

    with pytest.raises(UsageError, match=r"Cannot read device 'gpu0': a device is auto, cpu"):
        resolve_device("gpu0")


def test_feature_cache_limit_in_bytes() -> None:
    assert user_settings.features_max_bytes() == 20 * 1024**3
    user_settings.save_setting("cache.features_max_gb", "0.5")
    assert user_settings.features_max_bytes() == 512 * 1024**2


def test_a_broken_settings_file_is_named_and_repaired_by_config_set() -> None:
    file = paths.user_config_file()
    file.parent.mkdir(parents=True)
    file.write_text(yaml.safe_dump({"device": "cpu", "hub": {"timeout": -1, "retries": 5}}))
    with pytest.raises(ConfigError, match="The settings file is unusable") as caught:
        user_settings.load_settings()
    assert str(file) in caught.value.message and str(file) in caught.value.hint
    notes = user_settings.save_setting("data.root22", "/d")
    assert notes == [
        f"Dropped from {file}: Config key 'hub.timeout' must be in (0, 3600]; got -1.0."
    ]
    repaired = user_settings.load_settings()
    assert (repaired.device, repaired.hub.retries, repaired.hub.timeout) == ("cpu", 5, 30.0)
    assert user_settings.save_setting("hub.timeout", "10") == []  # nothing left to drop


def test_setting_the_bad_key_itself_makes_no_note() -> None:
    file = paths.user_config_file()
    file.parent.mkdir(parents=True)
    file.write_text("hub:\n  timeout: nan\n")
    assert user_settings.save_setting("hub.timeout", "10") == []
    assert user_settings.load_settings().hub.timeout == 10.0
