import pytest
import yaml

from aegan import paths
from aegan.config import schema as config
from aegan.config import settings as user_settings
from aegan.errors import ConfigError


def test_recipes_follow_the_published_configs():
    gearbox = config.load_config(22, "gearbox")
    assert (gearbox.train_set, gearbox.net.norm_g, gearbox.train.match_sigma) == ("dev", "bn", 1.0)
    assert gearbox.train.epochs == 60 and gearbox.net.first_norm
    toycar = config.load_config(22, "toycar")
    assert toycar.train.beta1 == 0.0 and not toycar.net.first_norm
    valve20 = config.load_config(20, "valve")
    assert (valve20.train.epochs, valve20.train.feat_match_eff, valve20.train_set) == (
        50,
        0.05,
        "deval",
    )
    assert valve20.detect.score == "G_z_cos_sum"
    # no published recipe: the year's defaults
    toytrain = config.load_config(22, "ToyTrain")
    assert (toytrain.train_set, toytrain.train.feat_match_eff) == ("dev", 0.1)


def test_precedence_defaults_recipe_file_then_set(tmp_path):
    cfg_file = tmp_path / "mine.yaml"
    cfg_file.write_text(yaml.safe_dump({"train": {"epochs": 7, "beta1": 0.3}, "train_set": "eval"}))
    cfg = config.load_config(22, "ToyCar", cfg_file, ["train.epochs=9"])
    assert cfg.train.epochs == 9  # --set beats the file
    assert cfg.train.beta1 == 0.3  # the file beats the recipe (0.0)
    assert cfg.train_set == "eval"
    assert cfg.train.feat_match_eff == 0.1  # recipe/default untouched


def test_set_values_are_converted_and_checked():
    cfg = config.load_config(
        20, "fan", overrides=["train.lr_d=1e-4", "net.first_norm=false", "train.seed=5"]
    )
    assert (
        cfg.train.lr_d == pytest.approx(1e-4)
        and cfg.net.first_norm is False
        and cfg.train.seed == 5
    )
    with pytest.raises(ConfigError, match="'train.epochs' must be of type int"):
        config.load_config(20, "fan", overrides=["train.epochs=2.5"])
    with pytest.raises(ConfigError, match="'net.first_norm' must be of type bool"):
        config.load_config(20, "fan", overrides=["net.first_norm=maybe"])
    with pytest.raises(ConfigError, match="must be one of"):
        config.load_config(20, "fan", overrides=["detect.score=G_q_9_sum"])
    with pytest.raises(ConfigError, match="key=value"):
        config.load_config(20, "fan", overrides=["train.epochs"])


def test_unknown_keys_are_named_with_suggestions(tmp_path):
    with pytest.raises(ConfigError) as err:
        config.load_config(22, "fan", overrides=["train.epoch=3"])
    assert "train.epoch'" in str(err.value) and "train.epochs" in str(err.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("net:\n  width: 3\n")
    with pytest.raises(ConfigError, match="net.width"):
        config.load_config(22, "fan", bad)


def test_config_file_for_another_machine_is_refused(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(config.config_yaml(config.load_config(22, "fan")))
    assert config.load_config(22, "fan", other).machine == "fan"
    with pytest.raises(ConfigError, match="is for machine 'fan'"):
        config.load_config(22, "slider", other)


def test_sizes_must_fit_the_network():
    with pytest.raises(ConfigError, match="must equal net.isize"):
        config.load_config(22, "fan", overrides=["net.isize=32"])
    small = config.load_config(
        22, "fan", overrides=["net.isize=32", "feat.n_mels=32", "feat.segment_frames=32"]
    )
    assert small.net.isize == 32


def test_saved_config_round_trips():
    cfg = config.load_config(20, "pump", overrides=["train.epochs=3"])
    again = config.config_from_dict(config.to_dict(cfg))
    assert again == cfg


def test_user_settings_live_under_aegan_home(aegan_home):
    assert paths.user_config_file().is_relative_to(aegan_home)
    assert user_settings.load_settings().data.root22 is None
    user_settings.save_setting("data.root22", "/data/dcase22")
    user_settings.save_setting("hub.retries", "5")
    settings = user_settings.load_settings()
    assert settings.data.root22 == "/data/dcase22" and settings.hub.retries == 5
    assert str(user_settings.data_root(2022, settings=settings)) == "/data/dcase22"
    with pytest.raises(ConfigError, match="hub.retries"):
        user_settings.save_setting("hub.retries", "many")
    with pytest.raises(ConfigError, match="Unknown config key 'data.root19'"):
        user_settings.save_setting("data.root19", "/x")


def test_every_machine_type_has_a_valid_config_and_published_models_follow_their_recipes():
    from aegan.bundles.registry import PUBLISHED
    from aegan.dcase.facts import MACHINES

    for year, machines in MACHINES.items():
        for machine in machines:
            assert config.load_config(year, machine.upper()).machine == machine
    for model in PUBLISHED:
        cfg = config.load_config(model.year, model.machine)
        assert cfg.detect.score == model.score
        assert model.figure_name == {2020: "average", 2022: "hmean"}[model.year]
    assert [m.name for m in PUBLISHED][:2] == ["fan20", "pump20"] and len(PUBLISHED) == 11
