"""Corpus cases: bad settings and config values are refused where they enter
(validation at the edge), naming the key, the value and what is allowed (exit 2)."""

from __future__ import annotations

from tests.robustness.corpus import Case, corpus_test, settings_file

SET = ["config", "set"]
TRAIN = ["train", "fan", "--year", "22", "--gpu", "cpu", "-d", "{tmp}", "--set"]
FIX = r"Repair it with `aegan config set KEY VALUE` .* or delete \S+config\.yaml"
BROKEN_YAML = "device: cpu\nhub: [1, 2\n"

CASES = [
    Case("mirror that is not a URL", [*SET, "hub.zenodo_url", "not a url"], 2,
         r"'hub\.zenodo_url' must be an http\(s\) URL .*got 'not a url' \(it has no host\)"),
    Case("mirror with a broken IPv6 host", [*SET, "hub.zenodo_url", "http://[::1"], 2,
         r"'hub\.zenodo_url' must be an http\(s\) URL .*got 'http://\[::1' \(Invalid IPv6 URL\)"),
    Case("negative timeout", [*SET, "hub.timeout", "-5"], 2,
         r"'hub\.timeout' must be in \(0, 3600\]; got -5\.0\. Its default: "
         r"aegan config set hub\.timeout 30\.0"),
    Case("NaN timeout", [*SET, "hub.timeout", "nan"], 2,
         r"'hub\.timeout' must be a finite number; got 'nan'"),
    Case("zero timeout", [*SET, "hub.timeout", "0"], 2,
         r"'hub\.timeout' must be in \(0, 3600\]; got 0\.0"),
    Case("device setting that names no device", [*SET, "device", "None"], 2,
         r"Setting 'device' must be auto, cpu, a GPU index \(0, cuda:1\) or a list \(0,1\); got 'None'"),
    Case("zero feature cache limit", [*SET, "cache.features_max_gb", "0"], 2,
         r"'cache\.features_max_gb' must be > 0; got 0\.0"),
    Case("seed beyond what numpy accepts", [*TRAIN, "train.seed=99999999999999999999"], 2,
         r"'train\.seed' must be in \[0, 4294967295\]; got 99999999999999999999"),
    Case("infinite learning rate", [*TRAIN, "train.lr_g=inf"], 2,
         r"'train\.lr_g' must be a finite number; got 'inf'"),
    Case("zero learning rate", [*TRAIN, "train.lr_d=0"], 2, r"'train\.lr_d' must be > 0; got 0\.0"),
    Case("n_fft below 2", [*TRAIN, "feat.n_fft=1"], 2, r"'feat\.n_fft' must be in \[2, 65536\]"),
    Case("negative top_db", [*TRAIN, "feat.top_db=-3"], 2, r"'feat\.top_db' must be > 0; got -3"),
    Case("threshold quantile of 1", [*TRAIN, "detect.threshold_quantile=1"], 2,
         r"'detect\.threshold_quantile' must be in \(0, 1\); got 1\.0"),
    Case("zero batch size", [*TRAIN, "train.batch_size=0"], 2,
         r"'train\.batch_size' must be in \[1, 1048576\]; got 0"),
    Case("settings file that is not YAML", ["config", "show"], 2,
         r"The settings file is unusable\. Config file \S+config\.yaml is not valid YAML: "
         r"line 3, column 1: expected ',' or '\]'.* " + FIX, settings_file(BROKEN_YAML)),
    Case("settings file of the wrong shape", ["config", "show"], 2,
         r"The settings file is unusable\. Config file \S+config\.yaml must hold a mapping .* "
         + FIX,
         settings_file("- 1\n- 2\n")),
    Case("settings file with a negative timeout", ["fetch", "fan22"], 2,
         r"The settings file is unusable\. \S+config\.yaml: Config key 'hub\.timeout' must be "
         r"in \(0, 3600\]; got -1\.0\. " + FIX, settings_file("hub:\n  timeout: -1\n")),
    Case("settings file with a device of None", ["fetch", "fan22"], 2,
         r"\S+config\.yaml: Setting 'device' must be auto, cpu, .*got 'None'",
         settings_file("device: None\n")),
    Case("config set repairs a broken settings file", [*SET, "device", "cpu"], 0,
         r"Note: Config file \S+config\.yaml is not valid YAML.* It was saved as "
         r"\S+config\.yaml\.broken; its keys are reset\. device = cpu",
         settings_file(BROKEN_YAML), unchanged=("tmp",)),
    Case("config set drops a bad key of the settings file", [*SET, "device", "cpu"], 0,
         r"Note: Dropped from \S+config\.yaml: Config key 'hub\.retries' must be of type int, "
         r"got 'many'\. device = cpu",
         settings_file("hub:\n  retries: many\n"), unchanged=("tmp",)),
]  # fmt: skip

test_cases = corpus_test(CASES)
