"""A real cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1.

Scoring by --scheduler or DASK_SCHEDULER_ADDRESS gives the rows of a serial
run; sweeps of `aegan test` and `aegan train` run one task per machine type;
a worker killed with SIGKILL mid-run loses no file and repeats none. The
kill comes last: it takes one of the module's two workers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections import Counter
from importlib import import_module

import pytest

from aegan import paths
from aegan.cli import app
from aegan.errors import UsageError
from aegan.fleet.batch import score_fleet
from aegan.fleet.inputs import gather_entries
from aegan.fleet.parts import read_rows
from aegan.fleet.sweeps import require_resources
from tests.cli.test_cli_train import TINY
from tests.fleet.test_fleet_score import WINDOWS, sorted_rows


@pytest.fixture
def cluster_home(dask_processes, monkeypatch, small_bundle):
    """This test shares the workers' AEGAN_HOME, with model fan-small installed."""
    cluster, _ = dask_processes
    monkeypatch.setenv("AEGAN_HOME", str(cluster.home))
    paths.models_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(small_bundle, paths.models_dir() / small_bundle.name)
    return cluster


def test_scoring_by_address_gives_the_serial_rows(
    dask_processes, recordings, installed_bundle, tmp_path, runner, monkeypatch
):
    cluster, _ = dask_processes
    serial = score_fleet(gather_entries([str(recordings)], "fan-small", None), tmp_path / "here")
    command = ["score", str(recordings), "-m", "fan-small", "--chunk-files", "2", "--json"]
    result = runner.invoke(
        app, [*command, "--out", str(tmp_path / "a"), "--scheduler", cluster.address]
    )
    assert result.exit_code == 1, result.output  # the broken file: an error row, not a failure
    summary = json.loads(result.stdout)
    assert summary["engine"] == f"the cluster at {cluster.address}"
    assert (summary["files"], summary["windows"], summary["unreadable_files"]) == (6, WINDOWS, 1)
    spread = read_rows(sorted((tmp_path / "a").glob("part-*.parquet")))
    assert sorted_rows(spread) == sorted_rows(read_rows(list(serial.parts)))
    loaded = dask_processes[1].run(lambda: len(import_module("aegan.fleet.worker")._detectors))
    assert set(loaded.values()) == {1}  # each worker loaded the model once for 3 chunks
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)
    again = runner.invoke(app, [*command, "--out", str(tmp_path / "a")])
    assert json.loads(again.stdout)["skipped"] == 3  # the same run, resumed: nothing to do
    assert json.loads(again.stdout)["engine"] == f"the cluster at {cluster.address}"


def test_a_test_sweep_runs_each_machine_type_and_reports_each_failure(
    cluster_home, synth22, runner
):
    base = ["test", "--year", "22", "--data-dir", str(synth22), "--json"]
    swept = runner.invoke(app, [*base, "--all", "--scheduler", cluster_home.address])
    assert swept.exit_code == 1, swept.output  # only fan has data and a model
    rows = {row["machine"]: row for row in json.loads(swept.stdout)["machines"]}
    assert len(rows) == 7 and rows["fan"]["error"] is None
    assert "No model of gearbox" in rows["gearbox"]["error"]
    alone = json.loads(runner.invoke(app, ["test", "fan", *base[1:]]).stdout)
    figure = alone["evaluation"]["scores"][alone["chosen_score"]]["official"]
    assert rows["fan"]["fields"]["figure %"] == round(100 * figure, 2)
    assert rows["fan"]["fields"]["clips"] == alone["n_clips"]


def test_a_training_sweep_takes_gpu_slots_and_resumes_from_the_run_folder(
    cluster_home, synth22, runner
):
    base = ["train", "fan", "--year", "22", "--data-dir", str(synth22), *TINY]
    first = runner.invoke(app, [*base, "--epochs", "1", "--scheduler", cluster_home.address])
    assert first.exit_code == 0, first.output
    assert "1/1" in first.stdout and "1 of 1 machine types done" in first.stdout
    more = runner.invoke(
        app, [*base, "--epochs", "2", "--resume", "--scheduler", cluster_home.address]
    )
    assert more.exit_code == 0, more.output
    assert "2/2" in more.stdout


def test_a_cluster_without_the_resource_is_refused(dask_processes):
    _, client = dask_processes
    with pytest.raises(UsageError, match="offers TPU=1"):
        require_resources(client, {"TPU": 1})


def test_a_worker_killed_mid_run_loses_and_repeats_no_file(
    dask_processes, recordings, installed_bundle, tmp_path
):
    _, client = dask_processes
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker(task, done, total):
        if done < 1 or killed or done >= total:
            return
        deadline = time.monotonic() + 10  # the scheduler may not have handed out the next chunk yet
        while not (busy := [w for w, keys in client.processing().items() if keys]):
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append(busy[0])

    entries = gather_entries([str(recordings)], "fan-small", None)
    run = score_fleet(entries, tmp_path / "out", files_per_chunk=1, client=client,
                      progress=kill_a_busy_worker)  # fmt: skip
    assert killed and killed[0] not in client.scheduler_info()["workers"]
    rows = read_rows(list(run.parts))
    assert rows.num_rows == WINDOWS and run.written == 6
    assert sorted(Counter(rows["file"].to_pylist()).values()) == [1, 1, 4, 4, 4, 4]
    assert not list((tmp_path / "out").glob(".*"))
