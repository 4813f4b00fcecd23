"""The original AEGAN-AD config files as --config: their keys mapped onto aegan's.

The files here are written for these tests in the original's format (its key
names and nesting), with values chosen to differ from aegan's defaults so that
each mapping shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aegan.cli import app
from aegan.config.keys import to_dict
from aegan.config.schema import load_config
from aegan.errors import ConfigError

PRETRAIN_22 = """\
dataset_dir: /data/dcase/dcase22
model_dir: ./model
detect_dir: ./detect
result_dir: ./result
spec_dir: ../spec
log_dir: ./log

feat:
  fft_num: 1024
  mel_bin: 128
  frame_hop: 256
  frame_num: 128
  graph_hop_f: 4

net:
  act: ['leakyrelu', 'tanh']  # Encoder, Decoder
  normalize: {'d': 'in', 'g': 'bn'}
  nz: 128
  ndf: 16
  ngf: 64
  isize: 128

train_set: 'dev'

train:
  lrD: 0.0001
  lrG: 0.0003
  beta1: 0.2
  epoch: 40
  batch_size: 256
  wgan:
    feat_match_eff: 0.5
    match_item: {'sigma': 1}
    ncritic: 2
    lambda_gp: 5

detect:
  p: 0.2

repre:
  normal: 0
  anomaly: 1
  source: 0
  target: 1
"""

CONFIG_20 = """\
dataset_dir: /data/dcase/dcase20
model_dir: ./model
spec_dir: ../spec
log_dir: ./log

mt:
  train: ['pump']
  test: ['pump']

train_set: 'deval'

feat:
  spec: 'mel'
  fft_num: 2048
  mel_bin: 128
  frame_hop: 512
  frame_num: 128

net:
  act: ['leakyrelu', 'relu']
  normalize: {'d': 'ln', 'g': 'ln'}
  nz: 256
  ndf: 32
  ngf: 32
  isize: 128

train:
  lrD: 0.0002
  lrG: 0.0002
  beta1: 0.5
  epoch: 30
  bs: 128
  wgan:
    feat_match_eff: 1
    match_item: {'mu': 1, 'sigma': 1}
    ncritic: 1
    lambda_gp: 10

detect:
  p: 0.1

repre:
  normal: 0
  anomaly: 1
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_2022_pretrain_file_maps_every_key(tmp_path):
    notes: list[str] = []
    path = _write(tmp_path, "pretrain/fan_cfg.yaml", PRETRAIN_22)
    cfg = load_config(22, "fan", path, notes=notes.append)
    feat, net, train = cfg.feat, cfg.net, cfg.train
    assert (feat.n_fft, feat.n_mels, feat.hop_length, feat.segment_frames) == (1024, 128, 256, 128)
    assert feat.segment_hop == 4
    assert (net.act_enc, net.act_dec, net.norm_d, net.norm_g) == ("leakyrelu", "tanh", "in", "bn")
    assert (net.nz, net.ndf, net.ngf, net.isize) == (128, 16, 64, 128)
    assert cfg.train_set == "dev"
    assert (train.lr_d, train.lr_g, train.beta1, train.epochs, train.batch_size) == (
        1e-4, 3e-4, 0.2, 40, 256,
    )  # fmt: skip
    assert (train.feat_match_eff, train.ncritic, train.lambda_gp) == (0.5, 2, 5.0)
    assert (train.match_mu, train.match_sigma) == (0.0, 1.0)  # mu left out: 0, as the original
    assert cfg.detect.max_fpr == 0.2
    assert not cfg.net.first_norm  # the published fan recipe's, which the file does not state
    unused = ["dataset_dir", "model_dir", "detect_dir", "result_dir", "spec_dir", "log_dir"]
    assert [note.split(": ")[1].split()[0] for note in notes] == unused
    assert "--data-dir" in notes[0] and "aegan models" in notes[1]


def test_a_2020_config_names_its_machine_type(tmp_path):
    path = _write(tmp_path, "config.yaml", CONFIG_20)
    cfg = load_config(20, "pump", path)
    assert (cfg.train_set, cfg.train.epochs, cfg.train.batch_size) == ("deval", 30, 128)
    assert (cfg.train.match_mu, cfg.train.match_sigma, cfg.train.feat_match_eff) == (1, 1, 1)
    with pytest.raises(ConfigError, match="is for machine 'pump'.*for 'fan'"):
        load_config(20, "fan", path)


def test_the_shown_config_round_trips(tmp_path, runner):
    original = _write(tmp_path, "pretrain/fan_cfg.yaml", PRETRAIN_22)
    shown = runner.invoke(app, ["config", "show", "fan", "--year", "22", "--config", str(original)])
    assert shown.exit_code == 0, shown.output
    assert "dataset_dir is not used" in shown.stderr and "n_fft: 1024" in shown.stdout
    again = _write(tmp_path, "aegan.yaml", shown.stdout)
    assert to_dict(load_config(22, "fan", again)) == to_dict(load_config(22, "fan", original))
    assert yaml.safe_load(shown.stdout)["train"]["match_sigma"] == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feat": {"spec": "stft"}}, "feat.spec to 'stft', but aegan works with 'mel' only"),
        ({"repre": {"anomaly": 0}}, "repre.anomaly .* codes labels as the DCASE evaluators do"),
        ({"net": {"act": ["relu"]}}, "net.act must list 2 values"),
        ({"train": {"wgan": {"match_item": {"kappa": 1}}}}, "match_item must map mu and/or sigma"),
        ({"mt": {"train": ["fan", "pump"]}}, "one machine type"),
        ({"train": {"lrd": 0.1}}, "Unknown config key 'train.lrd'"),
    ],
)
def test_a_wrong_key_or_value_is_named(tmp_path, change, message):
    data = yaml.safe_load(PRETRAIN_22)
    for section, values in change.items():
        merged = data.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value} if key != "match_item" else value
            else:
                merged[key] = value
    path = _write(tmp_path, "bad.yaml", yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_config(22, "fan", path)


def test_aegan_keys_and_original_keys_mix_in_one_file(tmp_path):
    path = _write(tmp_path, "mixed.yaml", "feat: {fft_num: 512}\ntrain: {select: last}\n")
    cfg = load_config(22, "fan", path)
    assert (cfg.feat.n_fft, cfg.train.select) == (512, "last")
