"""`aegan fetch` and `aegan models` against the local fake share and Zenodo.

A small AEGAN model is saved in the original checkpoint format and served as
``fan22``; synthetic DCASE data is served as the official archives. Fetching
with the small model's recipe (--set) downloads, verifies and calibrates it,
and the result works with `aegan test` and ``Detector.load``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from fake_servers import SHARE_TOKEN, FakeHub

from aegan import paths
from aegan.bundles import registry
from aegan.calibration.calibrate import import_checkpoint
from aegan.cli import app
from aegan.config import schema as config
from aegan.config.settings import save_setting
from aegan.detector.detector import Detector
from aegan.model.nets import Discriminator, Generator
from aegan.synth.dataset import SynthSpec, write_dataset
from tests.conftest import SET_SMALL, SMALL_NET

pytest_plugins = ["fake_servers"]  # the fake_hub and closed_port_url fixtures


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fan22 checkpoint of a small network, as the original code saves one."""
    cfg = config.load_config(22, "fan", None, SMALL_NET)
    torch.manual_seed(0)
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    path = tmp_path_factory.mktemp("checkpoint") / "fan.pth"
    torch.save(
        {"netG": generator.state_dict(), "netD": discriminator.state_dict(), "best_hmean": 0.7},
        path,
    )
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small DCASE 2022 fan tree (dev and eval, with eval ground truth)."""
    root = tmp_path_factory.mktemp("synthetic") / "dcase2022"
    spec = SynthSpec(
        year=2022, machines=("fan",), seconds=1.5, train_source=4, train_target=1,
        test_normal=2, test_anomaly=2,
    )  # fmt: skip
    write_dataset(root, spec)
    return root


def use_hub(url: str, token: str = SHARE_TOKEN) -> None:
    """Point the user settings at a server, without retries (tests need no patience)."""
    for key, value in {
        "hub.seafile_url": url,
        "hub.seafile_token": token,
        "hub.zenodo_url": url,
        "hub.github_raw_url": url,
        "hub.retries": "0",
        "hub.timeout": "2",
    }.items():
        save_setting(key, value)


@pytest.fixture
def share(fake_hub: FakeHub, small_checkpoint: Path) -> FakeHub:
    fake_hub.share["/dcase22/fan.pth"] = small_checkpoint.read_bytes()
    fake_hub.share["/dcase22/slider.pth"] = b"not fetched in these tests"
    use_hub(fake_hub.url)
    return fake_hub


@pytest.fixture
def offline(closed_port_url: str) -> str:
    use_hub(closed_port_url)
    return closed_port_url


def invoke(runner, *args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def models_json(runner) -> dict[str, dict]:
    result = invoke(runner, "models", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


# ---------------------------------------------------------------- the whole way


def test_fetch_with_data_calibrates_and_the_model_then_works(
    runner, share: FakeHub, synthetic: Path
) -> None:
    share.serve_dcase(synthetic, 2022, "fan")
    first = invoke(runner, "fetch", "fan22", "--data", "--gpu", "cpu", *SET_SMALL)
    assert first.exit_code == 0, first.output
    root = paths.data_dir() / "dcase2022"
    assert "fan (DCASE 2022) data: fetched dev_fan.zip" in first.output
    assert "aegan prepare fan --year 22" in first.output
    assert "fan22: checkpoint downloaded and verified" in first.output
    assert f"calibrated on the fan training data in {root}" in first.output
    assert (root / "ground_truth/ground_truth_data/ground_truth_fan_section_03_test.csv").is_file()
    assert models_json(runner)["fan22"]["state"] == "ready"

    requests = len(share.requests)
    again = invoke(runner, "fetch", "FAN22", *SET_SMALL)
    assert again.exit_code == 0, again.output
    assert "fan22 is already fetched and calibrated" in again.output
    assert "Nothing to do" in again.output and len(share.requests) == requests

    tested = invoke(runner, "test", "fan", "--year", "22", "--model", "Fan22", "--gpu", "cpu")
    assert tested.exit_code == 0, tested.output
    results = Path(tested.output.split("Results: ")[1].split()[0])
    assert json.loads((results / "results.json").read_text())["model"] == "fan22"

    detector = Detector.load("fan22")
    wav = next((root / "dev_data/fan/test").glob("*.wav"))
    assert math.isfinite(detector.score(wav))
    scored = invoke(runner, "score", str(wav), "--model", "fan22", "--gpu", "cpu", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["files"][0]["score"] == pytest.approx(detector.score(wav))
    assert detector.provenance.published_model == "fan22"


def test_fetch_without_data_keeps_the_checkpoint_and_says_how_to_go_on(
    runner, share: FakeHub
) -> None:
    result = invoke(runner, "fetch", "fan22", *SET_SMALL)
    assert result.exit_code == 0, result.output
    assert registry.checkpoint_path(registry.require_published("fan22")).is_file()
    assert "fan22 is not calibrated yet" in result.output
    assert "aegan fetch --data fan --year 22" in result.output
    assert "aegan fetch fan22 --set net.isize=32" in result.output
    assert "again to calibrate" in result.output
    assert models_json(runner)["fan22"]["state"] == "checkpoint only"


def test_fetch_from_a_file_imports_and_calibrates_without_network(
    runner, offline: str, small_checkpoint: Path, synthetic: Path
) -> None:
    result = invoke(
        runner, "fetch", "fan22", "--from", small_checkpoint, "--data-dir", synthetic,
        "--gpu", "cpu", *SET_SMALL, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert report["model"]["checkpoint"]["action"] == "copied"
    assert report["model"]["calibrated"] is True
    assert Path(report["model"]["bundle"]) == registry.bundle_path("fan22")
    announced = r"Calibrating on \d+ training clips \(\d+ for the thresholds\): about \d+ (s|min)"
    assert re.search(
        announced + r" on this CPU \(\d+\.\d TFLOP of network passes\)\.", result.stderr
    )


def test_data_only_fetch_tells_where_the_data_is_and_what_to_run_next(
    runner, share: FakeHub, synthetic: Path, tmp_path: Path
) -> None:
    share.serve_dcase(synthetic, 2022, "fan")
    target = tmp_path / "my data"
    first = invoke(runner, "fetch", "--data", "FAN", "--year", "22", "--split", "dev", "-d", target)
    assert first.exit_code == 0, first.output
    assert str(target / "dev_data/fan/train") in first.output
    assert f"aegan prepare fan --year 22 --data-dir '{target}'" in first.output
    assert sorted(p.name for p in (target / "dev_data/fan/train").glob("*.wav")) == sorted(
        p.name for p in (synthetic / "dev_data/fan/train").glob("*.wav")
    )
    again = invoke(runner, "fetch", "--data", "fan", "--split", "dev", "-d", target, "--json")
    assert again.exit_code == 0, again.output
    (report,) = json.loads(again.stdout)
    assert report["data"]["downloaded"] == [] and report["data"]["skipped"] == ["dev_fan.zip"]


# ---------------------------------------------------------------- what goes wrong


def test_a_modified_checkpoint_is_a_clear_error(runner, share: FakeHub) -> None:
    assert invoke(runner, "fetch", "fan22", *SET_SMALL).exit_code == 0
    checkpoint = registry.checkpoint_path(registry.require_published("fan22"))
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")
    result = invoke(runner, "fetch", "fan22", *SET_SMALL)
    assert result.exit_code == 1
    assert "was modified since it was fetched" in result.output
    assert "aegan fetch fan22 --force" in result.output
    assert "Traceback" not in result.output
    assert invoke(runner, "fetch", "fan22", "--force", *SET_SMALL).exit_code == 0


def test_a_checkpoint_that_does_not_fit_the_recipe_is_a_model_error(runner, share: FakeHub) -> None:
    result = invoke(runner, "fetch", "fan22")
    assert result.exit_code == 1
    assert "does not fit the fan (DCASE 2022) network" in result.output
    assert "--set" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("fan22",), ["/api/v2.1/share-links/", "aegan fetch fan22 --from FILE"]),
        (("--data", "fan", "--year", "22"), ["/api/records/6355122", "/records/6355122"]),
    ],
)
def test_network_failures_are_one_message_with_the_manual_way(
    runner, offline: str, args: tuple[str, ...], names: list[str]
) -> None:
    result = invoke(runner, "fetch", *args)
    assert result.exit_code == 1
    assert "refused" in result.output and offline in result.output
    assert all(name in result.output for name in names)
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("fan",), ["'fan' is not a published model", "fan20", "aegan fetch --data fan"]),
        (("fan23",), ["Did you mean fan22, fan20"]),
        (("fan22", "--year", "20"), ["fan22 is a DCASE 2022 model"]),
        (("fan22", "slider22", "--from", "x.pth"), ["exactly one model"]),
        (("fan22", "--split", "dev"), ["--split chooses which data --data downloads"]),
        ((), ["Name a model"]),
    ],
)
def test_usage_mistakes_say_what_to_do(runner, args: tuple[str, ...], expected: list[str]) -> None:
    result = invoke(runner, "fetch", *args)
    assert result.exit_code == 2, result.output
    assert all(text in result.output for text in expected), result.output


# ---------------------------------------------------------------- listings


def test_list_shows_remote_sizes_and_what_is_here(runner, share: FakeHub, synthetic: Path) -> None:
    share.serve_dcase(synthetic, 2022, "fan")
    assert invoke(runner, "fetch", "fan22", *SET_SMALL).exit_code == 0
    result = invoke(runner, "fetch", "--list", "--year", "22", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["offline"] is None
    models = {m["model"]["name"]: m for m in found["models"]}
    assert sorted(models) == sorted(m.name for m in registry.PUBLISHED if m.year == 2022)
    assert models["fan22"]["remote"]["path"] == "/dcase22/fan.pth"
    assert models["fan22"]["state"] == "checkpoint only"
    assert models["gearbox22"]["remote"] is None
    archives = {a["archive"]["name"]: a for a in found["archives"]}
    assert len(archives) == 7 * 3
    assert archives["dev_fan.zip"]["remote"]["size"] > 0
    assert archives["dev_bearing.zip"]["remote"] is None


def test_list_offline_says_so_once_and_lists_what_is_here(
    runner, offline: str, small_checkpoint: Path
) -> None:
    invoke(runner, "fetch", "fan22", "--from", small_checkpoint, *SET_SMALL)
    result = invoke(runner, "fetch", "--list")
    assert result.exit_code == 0, result.output
    assert result.output.count("Offline:") == 1 and offline in result.output
    fan22 = next(line for line in result.output.splitlines() if " fan22 " in line)
    assert "checkpoint only" in fan22
    assert "eval_data_train_ToyConveyor.zip" in result.output


def test_models_lists_published_and_local_bundles(
    runner, offline: str, small_checkpoint: Path, synthetic: Path
) -> None:
    cfg = config.load_config(22, "fan", None, [*SMALL_NET, "train_set=dev"])
    import_checkpoint(small_checkpoint, cfg, synthetic, "my-fan")
    invoke(runner, "fetch", "fan22", "--from", small_checkpoint, "-d", synthetic, *SET_SMALL)
    table = invoke(runner, "models")
    assert table.exit_code == 0, table.output
    rows = {line.split()[1]: line for line in table.output.splitlines() if line.startswith("│")}
    assert "not fetched" in rows["ToyCar20"] and "average 86.62" in rows["ToyCar20"]
    assert "published" in rows["fan22"] and "ready" in rows["fan22"]
    assert "imported" in rows["my-fan"] and "ready" in rows["my-fan"]
    listed = models_json(runner)
    assert len(listed) == len(registry.PUBLISHED) + 1
    assert listed["my-fan"]["published"] is None and listed["my-fan"]["size"] > 0
    detector = Detector.load(registry.bundle_path("my-fan"))
    assert detector.name == "my-fan"
