"""Sweeps per machine type run here without a cluster; where the engine runs; the CLI's summary."""

from __future__ import annotations

import json

import pytest

from aegan.cli import app
from aegan.errors import DataError
from aegan.fleet.engine import Engine, threads_per_worker
from aegan.fleet.sweeps import MachineTask, SweepRow, run_sweep
from tests.conftest import SET_SMALL


def _twice(value: int) -> dict:
    if value < 0:
        raise DataError(f"{value} is negative")
    return {"twice": 2 * value}


def test_a_sweep_keeps_the_order_and_turns_user_errors_into_rows():
    tasks = [MachineTask(m, _twice, (v,)) for m, v in (("a", 1), ("b", -1), ("c", 3))]
    seen = []
    rows = run_sweep(tasks, kind="check", progress=lambda task, done, total: seen.append(done))
    assert rows == [
        SweepRow("a", {"twice": 2}),
        SweepRow("b", error="-1 is negative"),
        SweepRow("c", {"twice": 6}),
    ]
    assert seen == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("workers", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (4, 16, 4)]
)
def test_local_workers_share_the_cores(workers, cores, threads):
    assert threads_per_worker(workers, cores) == threads


def test_the_scheduler_address_comes_from_the_environment_unless_workers_are_asked(monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.1:8786")
    assert Engine.from_options(None, None).scheduler == "tcp://10.0.0.1:8786"
    assert Engine.from_options(2, None) == Engine(workers=2)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    assert not Engine.from_options(None, None).distributed


def test_prepare_all_covers_every_machine_type_of_the_edition(runner, synth22):
    result = runner.invoke(app, ["prepare", "--all", "--year", "22", "--data-dir", str(synth22),
                                 *SET_SMALL, "--json"])  # fmt: skip
    assert result.exit_code == 1, result.output  # only fan has data
    rows = {row["machine"]: row for row in json.loads(result.stdout)["machines"]}
    assert sorted(rows) == sorted(
        ["fan", "gearbox", "bearing", "slider", "ToyCar", "ToyTrain", "valve"]
    )
    assert (
        rows["fan"]["error"] is None
        and rows["fan"]["fields"]["sets"] == "dev_train eval_train dev_test eval_test"
    )
    assert "gearbox" in rows["gearbox"]["error"]
    again = runner.invoke(app, ["prepare", "fan", "--all"])
    assert again.exit_code == 2 and "Name one machine type, or give --all" in again.output


def test_score_out_prints_the_summary(runner, recordings, installed_bundle, tmp_path):
    manifest = tmp_path / "files.csv"
    manifest.write_text("path,source\nrecordings/long0.wav,mic-a\nrecordings/broken.wav,mic-b\n")
    argv = ["score", "--manifest", str(manifest), "-m", "fan-small", "--out", str(tmp_path / "o")]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.output  # the broken file, as `aegan score`
    assert "hours of audio" in result.stdout and "1 of 1 parts written" in result.stdout
    assert "0.002" in result.stdout  # 6 s of audio: 0.00167 hours
