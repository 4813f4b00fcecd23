"""Two aegan fetching at once take turns; what a killed fetch left behind is swept."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fake_servers import FakeHub, ZenodoRecord, zip_bytes

from aegan.config.settings import HubSettings
from aegan.hub import download as dl
from aegan.hub import lockfile
from aegan.hub import zenodo as datasets

pytest_plugins = ["fake_servers"]  # the fake_hub and hub_settings fixtures

PAYLOAD = bytes(range(256)) * 400
POLICY = dl.DownloadPolicy(timeout=5.0, retries=1, backoff=0.001)


def _in_threads(*jobs) -> list[object]:
    """Run the jobs at once; their results (or what they raised), in order."""
    results: list[object] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_downloads_of_one_file_take_turns_and_fetch_it_once(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.raw["/files/model.pth"] = PAYLOAD
    fake_hub.add_fault(match="/files/", delay=0.5, times=1)  # the first one is slow
    dest = tmp_path / "model.pth"
    told: list[str] = []

    def fetch() -> Path:
        return dl.download(
            f"{fake_hub.url}/files/model.pth",
            dest,
            policy=POLICY,
            hint="by hand",
            expected_size=len(PAYLOAD),
            progress=lambda task, done, total: told.append(task),
        )

    assert _in_threads(fetch, fetch) == [dest, dest]
    assert dest.read_bytes() == PAYLOAD
    assert len(fake_hub.requests_to("/files/")) == 1  # the second found it there
    assert "Waiting for another aegan to finish model.pth" in told
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]  # no .part, no lock


def test_files_recorded_at_once_all_stay_in_the_lock_file(
    fake_hub: FakeHub, aegan_home: Path
) -> None:
    names = [f"m{i}.pth" for i in range(6)]
    for name in names:
        fake_hub.raw[f"/files/{name}"] = name.encode() * 1000
    folder = aegan_home / "cache" / "checkpoints"
    jobs = [
        lambda n=name: dl.download(f"{fake_hub.url}/files/{n}", folder / n, policy=POLICY, hint="")
        for name in names
    ]
    assert _in_threads(*jobs) == [folder / n for n in names]
    recorded = json.loads(lockfile.lock_path().read_text())
    assert sorted(recorded) == [f"checkpoints/{n}" for n in names]


def test_two_data_fetches_of_one_archive_extract_it_once(
    fake_hub: FakeHub, hub_settings: HubSettings, tmp_path: Path
) -> None:
    clips = {f"fan/train/section_00_source_train_normal_{i:04d}_a.wav": b"RIFF" for i in range(3)}
    clips |= {"fan/test/section_00_source_test_normal_0000_a.wav": b"RIFF"}
    fake_hub.zenodo[6355122] = ZenodoRecord({"dev_fan.zip": zip_bytes(clips)})
    fake_hub.add_fault(match="dev_fan.zip", delay=0.5, times=1)
    root = tmp_path / "dcase2022"
    stale = root / ".dev_fan.zip.k2j4h6g8.part"  # a fetch killed while extracting
    (stale / "fan" / "train").mkdir(parents=True)

    def fetch() -> datasets.FetchSummary:
        return datasets.fetch_dataset(2022, "fan", "dev", root, hub_settings, backoff=0.001)

    first, second = _in_threads(fetch, fetch)
    assert isinstance(first, datasets.FetchSummary) and isinstance(second, datasets.FetchSummary)
    assert sorted([first.downloaded, second.downloaded]) == [[], ["dev_fan.zip"]]
    assert len(fake_hub.requests_to("dev_fan.zip")) == 1
    assert len(list((root / "dev_data/fan/train").glob("*.wav"))) == 3
    assert not stale.exists() and not list(root.glob(".*.part")) + list(root.glob(".*.lock"))


def test_a_model_fetch_sweeps_what_a_killed_one_left(tmp_path: Path) -> None:
    from aegan import paths
    from aegan.bundles.registry import require_published
    from aegan.config import schema as config
    from aegan.hub.fetch import fetch_model
    from tests.conftest import SMALL_NET
    from tests.robustness.corpus import checkpoint

    stale = [
        paths.models_dir() / ".fan22.safetensors.a1b2c3d4.safetensors.part",
        paths.checkpoints_dir() / ".fan22.pth.e5f6g7h8.part",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half written")
    cfg = config.load_config(22, "fan", overrides=SMALL_NET)
    source = checkpoint(tmp_path / "good.pth", SMALL_NET)
    done = fetch_model(
        require_published("fan22"), cfg, tmp_path / "no-data", HubSettings(), source_file=source
    )
    assert done.checkpoint is not None and done.missing_data  # imported; no data to calibrate
    assert not any(path.exists() for path in stale)
    assert [p.name for p in paths.checkpoints_dir().iterdir()] == ["fan22.pth"]
