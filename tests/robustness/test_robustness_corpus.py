"""The first cases of the robustness corpus: checkpoints, downloads, audio,
bundles, training runs, features and reports. The framework is ``corpus.py``."""

from __future__ import annotations

from tests.conftest import SET_SMALL
from tests.robustness.corpus import (
    Case,
    Payload,
    bad_bundle,
    corpus_test,
    existing_report,
    foreign_run_checkpoint,
    nan_wav,
    nan_weights,
    pickle_bomb,
    share_serves_wrong_architecture,
    silent_wav,
    synthetic_data,
    wrong_architecture,
    zenodo_serves_zip_bomb,
)

pytest_plugins = ["fake_servers"]  # the fake_hub fixture

# ---------------------------------------------------------------- the cases

FROM = ["fetch", "fan22", *SET_SMALL, "--from"]
SCORE = ["score", "--json", "--gpu", "cpu", "--fail-on-anomaly", "--model"]
RESUME = ["train", "fan", "--year", "22", "--name", "myrun", "--resume", "--gpu", "cpu"]

CASES = [
    Case("import of a wrong architecture", [*FROM, "{tmp}/wrong.pth"], 1,
         r"generator does not fit the fan \(DCASE 2022\) network", wrong_architecture),
    Case("import of a pickle bomb", [*FROM, "{tmp}/evil.pth"], 1,
         r"ws/evil\.pth is not a readable PyTorch checkpoint: .*refuses to unpickle .* "
         r"arbitrary code", pickle_bomb),
    Case("import of NaN weights", [*FROM, "{tmp}/nan.pth"], 1,
         r"ws/nan\.pth has non-finite weights \(NaN or infinity\) in the generator's",
         nan_weights),
    Case("download of a wrong architecture", ["fetch", "fan22", "--force", *SET_SMALL], 1,
         r"does not fit the fan \(DCASE 2022\) network", share_serves_wrong_architecture),
    Case("zip bomb", ["fetch", "--data", "fan", "--split", "dev", "-d", "{tmp}/data"], 1,
         r"Refusing to extract dev_fan\.zip: it unpacks .* times its size \(the limit is 20\)",
         zenodo_serves_zip_bomb, unchanged=("tmp",)),
    Case("wav with NaN samples", [*SCORE, "fan-small", "{tmp}/nan.wav"], 1,
         r"nan\.wav is unusable: its samples include NaN or infinity", nan_wav),
    Case("wav of digital silence", [*SCORE, "fan-small", "{tmp}/silence.wav"], 1,
         r"silence\.wav is unusable: it is digital silence", silent_wav),
    Case("bundle with NaN weights", [*SCORE, "fan-bad", "{tmp}/tone.wav"], 1,
         r"fan-bad\.safetensors: its tensor netG\.\S+ holds NaN or infinity",
         lambda ws: bad_bundle(ws, fill=float("nan"))),
    Case("bundle with a flat scaler", [*SCORE, "fan-bad", "{tmp}/tone.wav"], 1,
         r"fan-bad\.safetensors: its scaler is degenerate \(max 3, min 3",
         lambda ws: bad_bundle(ws, scaler={"max": 3.0, "min": 3.0})),
    Case("resume from a foreign checkpoint.pt", RESUME, 1,
         r"checkpoint\.pt is not an aegan training checkpoint",
         foreign_run_checkpoint({"netG": {}, "netD": {}})),
    Case("resume from a pickled checkpoint.pt", RESUME, 1,
         r"Cannot read the training checkpoint .*checkpoint\.pt: .*refuses to unpickle",
         foreign_run_checkpoint({"x": Payload()})),
    Case("NaN top_db refused at the edge",
         ["prepare", "fan", "-d", "{data}", *SET_SMALL, "--set", "feat.top_db=nan"], 2,
         r"Config key 'feat\.top_db' must be a finite number; got 'nan'", synthetic_data),
    Case("report over an existing file", ["report", "-f", "markdown", "-o", "{tmp}/report.md"],
         2, r"report\.md already exists; the report was not written", existing_report),
]  # fmt: skip


test_cases = corpus_test(CASES)
