"""Own data training: the recipe an own model starts from, its starting weights, audio amounts."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
import torch

from aegan.config.keys import flatten, to_dict
from aegan.config.recipes import year_defaults
from aegan.config.schema import load_config
from aegan.detector.detector import Detector
from aegan.errors import DataError, UsageError
from aegan.owndata.folder import OwnData
from aegan.owndata.training import (
    check_audio_amount,
    default_config,
    initial_networks,
    own_config,
    recipe_config,
)
from aegan.training import runs
from aegan.training.job import resumed_own_run
from tests.conftest import SMALL_NET, write_tone


def test_the_default_recipe_is_the_2022_defaults_and_nothing_else():
    cfg = default_config()
    assert cfg.year == 2022
    plain = flatten(to_dict(dataclasses.replace(load_config(22, "fan"), machine=cfg.machine)))
    fresh = flatten(to_dict(cfg))
    for key, value in year_defaults(2022).items():
        assert fresh[key] == value
    # fan22's recipe changes first_norm; the defaults keep the schema's value
    assert fresh["net.first_norm"] is True and plain["net.first_norm"] is False


def test_a_published_recipe_gives_its_machine_types_settings():
    assert recipe_config("fan22") == load_config(22, "fan")
    assert recipe_config("ToyCar20").net == load_config(20, "ToyCar").net


def test_a_local_model_is_a_recipe_and_the_init_models_recipe_is_the_default(installed_bundle):
    local = Detector.load("fan-small").cfg
    assert recipe_config("fan-small") == local
    assert recipe_config(None, init="fan-small") == local
    with pytest.raises(UsageError, match="Unknown model"):
        recipe_config("no-such-model")


def test_without_a_test_folder_the_last_epoch_is_kept(tmp_path):
    (tmp_path / "train").mkdir()
    data = OwnData.at(tmp_path)
    assert own_config(data, "fan22", None, None, []).train.select == "last"
    (tmp_path / "test").mkdir()
    assert own_config(data, "fan22", None, None, []).train.select == "paper"
    assert own_config(data, None, None, None, ["train.select=last"]).train.select == "last"


def test_init_weights_replace_the_fresh_ones_and_other_networks_are_refused(installed_bundle):
    start = Detector.load("fan-small")
    torch.manual_seed(1)
    generator, discriminator = initial_networks(start.cfg, "fan-small")
    for mine, theirs in ((generator, start.generator), (discriminator, start.discriminator)):
        for (name, value), other in zip(
            mine.state_dict().items(), theirs.state_dict().values(), strict=True
        ):
            assert torch.equal(value, other), name
    torch.manual_seed(1)
    fresh, _ = initial_networks(start.cfg, None)
    first = next(iter(generator.state_dict()))
    assert not torch.equal(fresh.state_dict()[first], generator.state_dict()[first])
    wider = load_config(22, "fan", overrides=[*SMALL_NET, "net.nz=32"])
    with pytest.raises(UsageError, match=r"net\.nz \(16 there, 32 here\)"):
        initial_networks(wider, "fan-small")


def test_too_little_audio_says_how_much_is_needed_and_how_much_was_found(tmp_path):
    for i in range(6):
        write_tone(tmp_path / "train" / f"r{i}.wav", seconds=3.0, seed=i)
    data = OwnData.at(tmp_path)
    clips = data.train_clips(2022, "fan")
    small = load_config(22, "fan", overrides=[*SMALL_NET, "train.batch_size=64"])
    check_audio_amount(clips, small, data.folder)  # 6 x 63 segments of 32 frames: enough
    large = load_config(22, "fan", overrides=[*SMALL_NET, "train.batch_size=512"])
    with pytest.raises(DataError, match=r"its 6 recordings give 378 segments \(model inputs of "
                       r"32 frames\), fewer than one training batch of 512") as caught:  # fmt: skip
        check_audio_amount(clips, large, data.folder)
    assert "--set train.batch_size=256" in (caught.value.hint or "")
    with pytest.raises(DataError, match=r"at least 5 recordings") as caught:
        check_audio_amount(clips[:3], small, data.folder)
    assert "batch_size" not in (caught.value.hint or "")  # more recordings, not a smaller batch


def test_own_runs_are_named_after_their_folder():
    cfg = load_config(22, "fan")
    now = datetime(2026, 11, 2, 8, 15)
    assert runs.default_name(cfg, now) == "fan22-20261102-081500"
    assert runs.default_name(cfg, now, base="line 3 (hall)") == "line-3-hall-20261102-081500"


def test_an_own_run_resumes_by_name_with_its_saved_settings(tmp_path):
    cfg = own_config(OwnData.at(_with_train(tmp_path)), None, None, None, SMALL_NET)
    runs.start_fresh(runs.run_dir("line3"), cfg)
    runs.save_checkpoint(runs.run_dir("line3"), runs.Checkpoint(cfg, 1, {}, []))
    resumed, name = resumed_own_run("line3", None, ["train.epochs=90"])
    assert name == "line3" and resumed.train.epochs == 90 and resumed.net == cfg.net
    with pytest.raises(UsageError, match="needs the run's --name"):
        resumed_own_run(None, None, [])
    with pytest.raises(UsageError, match="these differ from the run's: net.nz"):
        resumed_own_run("line3", None, ["net.nz=8"])


def _with_train(folder):
    (folder / "train").mkdir()
    return folder
