"""A training run's folder: the checkpoint a run resumes from, its history, its curves."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.bundles.registry import bundle_path
from aegan.config.schema import load_config
from aegan.errors import AeganError, ModelError, UsageError
from aegan.plots import plot_curves
from aegan.training import runs
from aegan.training.runs import Best, Checkpoint, EpochRecord
from tests.conftest import SMALL_NET


def config(machine: str = "fan", year: int = 22, *extra: str):
    return load_config(year, machine, overrides=[*SMALL_NET, "train_set=dev", *extra])


def trainer_state(seed: int = 0) -> dict:
    """A state like Trainer.state_dict(): weights with buffers, and an optimiser's state."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    moments = {
        i: {
            "step": torch.tensor(3.0),
            "exp_avg": torch.randn(p.shape),
            "exp_avg_sq": torch.rand(p.shape),
        }
        for i, p in enumerate(net.parameters())
    }
    groups = [{"lr": 1e-4, "betas": (0.5, 0.999), "eps": 1e-8, "params": list(moments)}]
    return {"netG": net.state_dict(), "optG": {"state": moments, "param_groups": groups}, "step": 7}


def history(epochs: int, validated: bool = True) -> list[EpochRecord]:
    records = []
    for epoch in range(1, epochs + 1):
        record = EpochRecord(
            epoch, {"loss_d": -0.5 * epoch, "loss_g": 1.0 / epoch, "recon": 0.1}, 2.5, 1000.0
        )
        if validated:
            record.figure_name = "hmean"
            record.figures = {"G_x_2_sum": 0.5 + epoch / 100, "D_lof": math.nan}
            record.best_score, record.best_figure = "G_x_2_sum", 0.5 + epoch / 100
            record.kept_epoch, record.kept_score, record.kept_figure = epoch, "G_x_2_sum", 0.6
            record.selected = True
        records.append(record)
    return records


def checkpoint(epochs: int = 2, machine: str = "fan", **kwargs) -> Checkpoint:
    state = trainer_state()
    best = Best(1, "G_x_2_sum", 0.51, runs.cpu_copy(state["netG"]), {"w": torch.ones(2)})
    return Checkpoint(config(machine), epochs, state, history(epochs, **kwargs), best)


def assert_same_tree(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and plain values are equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_tree(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tree(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def same_record(a: EpochRecord, b: EpochRecord) -> bool:
    """Equal, NaN figures included."""
    da, db = a.to_dict(), b.to_dict()
    return json.dumps(da, sort_keys=True) == json.dumps(db, sort_keys=True)


# ---------------------------------------------------------------- the folder


def test_runs_live_under_the_aegan_home(aegan_home: Path) -> None:
    assert runs.run_dir("fan22-x") == aegan_home / "cache" / "runs" / "fan22-x"


def test_a_fresh_start_holds_only_the_config(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / runs.CHECKPOINT).write_bytes(b"old")
    (folder / "stale.txt").write_text("old")
    cfg = config("valve", 20)
    runs.start_fresh(folder, cfg)
    assert sorted(p.name for p in folder.iterdir()) == [runs.CONFIG]
    text = (folder / runs.CONFIG).read_text()
    assert "valve" in text and "2020" in text


def test_a_name_is_taken_by_a_run_or_by_a_model() -> None:
    assert not runs.name_taken("mine")
    runs.run_dir("mine").mkdir(parents=True)
    assert runs.name_taken("mine")
    bundle_path("other").parent.mkdir(parents=True, exist_ok=True)
    bundle_path("other").write_bytes(b"")
    assert runs.name_taken("other")


def test_default_names_sort_by_time_and_are_valid_names() -> None:
    cfg = config()
    earlier = runs.default_name(cfg, datetime(2024, 1, 31, 9, 5, 0))
    later = runs.default_name(cfg, datetime(2024, 12, 1, 17, 45, 0))
    assert earlier == "fan22-20240131-090500" and earlier < later
    runs.check_name(earlier)


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../up", "a b", "x" * 101, "fan22"])
def test_names_that_are_not_safe_folder_names_or_are_published_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        runs.check_name(name)


def test_an_unwritable_folder_is_reported_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(AeganError) as caught:
        runs.ensure_writable(blocker / "runs")
    assert "Cannot write to" in caught.value.message and "AEGAN_HOME" in caught.value.hint
    runs.ensure_writable(tmp_path / "fine")
    assert list((tmp_path / "fine").iterdir()) == []  # the probe leaves nothing behind


# ---------------------------------------------------------------- the checkpoint


def test_a_checkpoint_reads_back_as_written(tmp_path: Path) -> None:
    written = checkpoint(3)
    written.rng = runs.rng_state(torch.device("cpu"))
    path = runs.save_checkpoint(tmp_path, written)
    assert path == tmp_path / runs.CHECKPOINT
    read = runs.read_checkpoint(tmp_path)
    assert read.config == written.config and read.epoch == 3
    assert_same_tree(written.state, read.state, "state")
    assert len(read.history) == 3
    assert all(same_record(a, b) for a, b in zip(written.history, read.history, strict=True))
    assert math.isnan(read.history[0].figures["D_lof"])
    assert (read.best.epoch, read.best.score, read.best.figure) == (1, "G_x_2_sum", 0.51)
    assert_same_tree(written.best.netG, read.best.netG, "best.netG")
    assert_same_tree(written.rng["torch"], read.rng["torch"], "rng")


def test_a_checkpoint_without_a_kept_epoch_reads_back_without_one(tmp_path: Path) -> None:
    written = checkpoint(1, validated=False)
    written.best = None
    runs.save_checkpoint(tmp_path, written)
    read = runs.read_checkpoint(tmp_path)
    assert read.best is None and read.rng is None and read.history[0].figures is None


class _Payload:
    def __reduce__(self):
        return (print, ("code ran",))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([1, 2, 3], "not an aegan training checkpoint"),
        ({"netG": {}, "netD": {}}, "not an aegan training checkpoint"),
        ({"x": _Payload()}, "refuses to unpickle"),
    ],
)
def test_a_foreign_or_pickled_checkpoint_is_one_model_error(
    tmp_path: Path, payload: object, expected: str
) -> None:
    torch.save(payload, tmp_path / runs.CHECKPOINT)
    with pytest.raises(ModelError, match=expected) as caught:
        runs.read_checkpoint(tmp_path)
    assert "weights_only" not in caught.value.message + caught.value.hint
    assert "--resume" in caught.value.hint


def test_restored_random_state_draws_what_the_saved_one_would(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.standard_normal()  # a cached Gaussian is part of numpy's state
    written = checkpoint(1)
    written.rng = runs.rng_state(cpu)
    expected = (torch.rand(3), np.random.standard_normal(3), random.random())
    runs.save_checkpoint(tmp_path, written)
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    runs.restore_rng(runs.read_checkpoint(tmp_path).rng, cpu)
    drawn = (torch.rand(3), np.random.standard_normal(3), random.random())
    assert torch.equal(expected[0], drawn[0])
    assert np.array_equal(expected[1], drawn[1]) and expected[2] == drawn[2]


def test_a_failed_write_keeps_the_last_complete_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs.save_checkpoint(tmp_path, checkpoint(1))
    before = (tmp_path / runs.CHECKPOINT).read_bytes()

    def broken_save(payload, target) -> None:
        Path(target).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        runs.save_checkpoint(tmp_path, checkpoint(2))
    assert (tmp_path / runs.CHECKPOINT).read_bytes() == before
    assert runs.read_checkpoint(tmp_path).epoch == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [runs.CHECKPOINT, runs.HISTORY]
    assert len((tmp_path / runs.HISTORY).read_text().splitlines()) == 1  # history not ahead


def test_no_checkpoint_says_to_start_without_resume(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        runs.read_checkpoint(tmp_path)
    assert "no checkpoint" in caught.value.message and "--resume" in caught.value.hint


class _Evil:
    """A pickle that would create a file when unpickled without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("content", ["foreign", "garbage", "truncated", "pickled code", "old"])
def test_a_foreign_or_corrupt_checkpoint_is_refused_with_a_hint(
    tmp_path: Path, content: str
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    target = folder / runs.CHECKPOINT
    marker = tmp_path / "code-ran"
    if content == "foreign":  # another program's torch file, e.g. a bare state_dict
        torch.save({"weight": torch.ones(2)}, target)
    elif content == "garbage":
        target.write_bytes(os.urandom(256))
    elif content == "truncated":
        runs.save_checkpoint(folder, checkpoint(1))
        target.write_bytes(target.read_bytes()[:300])
    elif content == "pickled code":
        with open(target, "wb") as fh:
            pickle.dump({"format": runs.CHECKPOINT_FORMAT, "x": _Evil(marker)}, fh)
    else:  # the right format tag, but a field missing
        torch.save({"format": runs.CHECKPOINT_FORMAT, "epoch": 1}, target)
    with pytest.raises(ModelError) as caught:
        runs.read_checkpoint(folder)
    assert str(target) in caught.value.message
    assert "without --resume" in caught.value.hint
    assert not marker.exists()  # nothing in the file was run


def test_latest_run_is_the_newest_checkpoint_of_that_machine_and_year() -> None:
    def save(name: str, machine: str, mtime: float) -> None:
        folder = runs.run_dir(name)
        written = checkpoint(1, machine=machine)
        runs.save_checkpoint(folder, written)
        os.utime(folder / runs.CHECKPOINT, (mtime, mtime))

    assert runs.latest_run(2022, "fan") is None
    save("fan-old", "fan", 1_000_000)
    save("fan-new", "fan", 2_000_000)
    save("valve-newest", "valve", 3_000_000)
    broken = runs.run_dir("fan-broken")
    broken.mkdir(parents=True)
    (broken / runs.CHECKPOINT).write_bytes(b"not a checkpoint")
    os.utime(broken / runs.CHECKPOINT, (4_000_000, 4_000_000))
    assert runs.latest_run(2022, "fan") == "fan-new"
    assert runs.latest_run(2022, "valve") == "valve-newest"
    assert runs.latest_run(2020, "fan") is None


# ---------------------------------------------------------------- history and curves


def test_history_is_one_json_record_per_epoch_that_reads_back(tmp_path: Path) -> None:
    written = checkpoint(3)
    runs.save_checkpoint(tmp_path, written)
    lines = (tmp_path / runs.HISTORY).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3

    def strict(value: str):
        raise AssertionError(f"{value} is not JSON")

    records = [json.loads(line, parse_constant=strict) for line in lines]  # NaN written as null
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert records[0]["figures"]["D_lof"] is None
    read = [EpochRecord.from_dict(r) for r in records]
    assert all(same_record(a, b) for a, b in zip(written.history, read, strict=True))


def test_history_follows_the_checkpoint_when_a_run_resumes_from_an_earlier_epoch(
    tmp_path: Path,
) -> None:
    """Rewritten whole, not appended: no epoch appears twice after a resume."""
    runs.save_checkpoint(tmp_path, checkpoint(3))
    runs.save_checkpoint(tmp_path, checkpoint(2))
    epochs = [json.loads(x)["epoch"] for x in (tmp_path / runs.HISTORY).read_text().splitlines()]
    assert epochs == [1, 2]


@settings(max_examples=40, deadline=None)
@given(
    losses=st.dictionaries(
        st.sampled_from(["loss_d", "loss_g", "recon"]),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    figures=st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["G_x_2_sum", "D_lof", "D_knn"]), st.floats(0, 1) | st.just(math.nan)
        ),
    ),
    seconds=st.floats(0, 1e5),
)
def test_any_epoch_record_survives_a_json_round_trip(losses, figures, seconds) -> None:
    record = EpochRecord(4, losses, seconds, 12.5, figures=figures, figure_name="average")
    line = json.dumps(record.to_dict(), allow_nan=False)  # valid JSON whatever the figures
    assert same_record(EpochRecord.from_dict(json.loads(line)), record)


def test_a_diverged_epoch_is_still_valid_json(tmp_path: Path) -> None:
    written = checkpoint(1)
    written.history[0].losses = {"loss_d": math.nan, "loss_g": math.inf, "recon": 0.1}
    runs.save_checkpoint(tmp_path, written)
    line = (tmp_path / runs.HISTORY).read_text().strip()
    record = json.loads(line, parse_constant=lambda value: pytest.fail(f"{value} in {line}"))
    assert record["losses"]["recon"] == 0.1


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("validated", [True, False])
def test_curves_png_is_drawn_for_validated_and_unvalidated_runs(
    tmp_path: Path, validated: bool
) -> None:
    target = tmp_path / runs.CURVES
    curves = runs.training_curves(history(3, validated), "G_x_2_sum", "dev test")
    assert plot_curves(target, curves) == target
    width, height = png_size(target)
    assert width > height > 100  # two panels side by side
    assert [p.name for p in tmp_path.iterdir()] == [runs.CURVES]  # written atomically


def test_curves_label_validation_by_the_runs_test_set(tmp_path: Path) -> None:
    """An own-data run's curves name its folder's test set, never DCASE's dev test set."""
    from aegan.owndata.folder import OwnData
    from aegan.training.job import TrainJob

    folder = tmp_path / "pump7"
    (folder / "train").mkdir(parents=True)
    own = TrainJob(config(), OwnData(folder), "pump7-run")
    dcase = TrainJob(config(), tmp_path, "fan-run")
    assert (own.test_set, dcase.test_set) == ("pump7/test", "dev test")
    curves = runs.training_curves(history(3, True), "G_x_2_sum", own.test_set)
    assert curves.test_set == "pump7/test"
    assert curves.validated_epochs == [r.epoch for r in history(3, True) if r.figures]
    assert curves.chosen == [100 * r.figures["G_x_2_sum"] for r in history(3, True) if r.figures]
