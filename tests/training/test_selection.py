"""Epoch selection: ``paper`` keeps the best epoch by the official figure, ``last`` the last."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegan.config.schema import load_config
from aegan.dcase.clips import Clip
from aegan.dcase.metrics import Evaluation, ScoreFigures
from aegan.detector.detector import Detector
from aegan.errors import ModelError
from aegan.features.cache import FeatureSet
from aegan.model.nets import Discriminator, Generator
from aegan.training.distributed import Rank
from aegan.training.runs import Best, Checkpoint, EpochRecord
from aegan.training.selection import epoch_record, keep_best, save_selected
from aegan.training.wgan import EpochLosses
from tests.conftest import SMALL_NET


class FakeTrainer:
    """What selection reads of a trainer: its networks, their state, its device."""

    def __init__(self, cfg, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.generator, self.discriminator = Generator(cfg.net), Discriminator(cfg.net)
        self.rank = Rank()

    def state_dict(self) -> dict:
        return {"netG": self.generator.state_dict(), "netD": self.discriminator.state_dict()}

    def perturb(self, value: float) -> None:
        """Stands in for an epoch of training: every weight changes."""
        with torch.no_grad():
            for p in [*self.generator.parameters(), *self.discriminator.parameters()]:
                p.fill_(value)


def config(*extra: str):
    return load_config(22, "fan", overrides=[*SMALL_NET, "train_set=dev", *extra])


@pytest.fixture(scope="module")
def cfg():
    return config()


def record(epoch: int, figure: float | None, score: str = "G_x_2_sum") -> EpochRecord:
    return EpochRecord(
        epoch, {"loss_d": 0.0}, 1.0, 10.0, best_score=None if figure is None else score,
        best_figure=figure, figure_name="hmean",
        figures=None if figure is None else {score: figure},
    )  # fmt: skip


def run_paper(trainer: FakeTrainer, figures: list[float | None]) -> tuple[Best | None, list]:
    """keep_best after each epoch, weights set to the epoch number, as training would."""
    best, records = None, []
    for epoch, figure in enumerate(figures, 1):
        trainer.perturb(float(epoch))
        rec = record(epoch, figure, score=f"score{epoch}")
        best = keep_best(best, rec, trainer)
        records.append(rec)
    return best, records


# ---------------------------------------------------------------- paper: keep_best


def test_paper_keeps_the_epoch_with_the_highest_figure_and_its_weights(cfg) -> None:
    trainer = FakeTrainer(cfg)
    best, records = run_paper(trainer, [0.5, 0.7, 0.6])
    assert (best.epoch, best.score, best.figure) == (2, "score2", 0.7)
    assert [r.selected for r in records] == [True, True, False]
    assert [(r.kept_epoch, r.kept_score, r.kept_figure) for r in records] == [
        (1, "score1", 0.5), (2, "score2", 0.7), (2, "score2", 0.7),
    ]  # fmt: skip
    # The kept weights are those of epoch 2, not the trainer's current (epoch 3) ones.
    for kept, net in ((best.netG, trainer.generator), (best.netD, trainer.discriminator)):
        assert all(torch.all(kept[name] == 2.0) for name, _ in net.named_parameters())
    assert set(best.netG) == set(trainer.generator.state_dict())


def test_kept_weights_are_a_cpu_copy_that_training_does_not_change(cfg) -> None:
    trainer = FakeTrainer(cfg)
    best = keep_best(None, record(1, 0.5), trainer)
    before = {k: v.clone() for k, v in best.netG.items()}
    trainer.perturb(123.0)
    assert all(torch.equal(before[k], best.netG[k]) for k in before)
    assert all(v.device.type == "cpu" for v in [*best.netG.values(), *best.netD.values()])


def test_an_equal_figure_keeps_the_earlier_epoch(cfg) -> None:
    best, records = run_paper(FakeTrainer(cfg), [0.6, 0.6, 0.6])
    assert best.epoch == 1 and [r.selected for r in records] == [True, False, False]


def test_epochs_without_a_figure_are_never_kept(cfg) -> None:
    best, records = run_paper(FakeTrainer(cfg), [None, None])
    assert best is None
    assert all(not r.selected and r.kept_epoch is None for r in records)
    best, records = run_paper(FakeTrainer(cfg), [None, 0.4, None])
    assert best.epoch == 2 and [r.kept_epoch for r in records] == [None, 2, 2]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from([0.1, 0.4, 0.5, 0.9])), max_size=8))
def test_paper_keeps_the_first_epoch_of_the_highest_figure(figures: list[float | None]) -> None:
    trainer = SimpleNamespace(generator=torch.nn.Linear(1, 1), discriminator=torch.nn.Linear(1, 1))
    best = None
    for epoch, figure in enumerate(figures, 1):
        best = keep_best(best, record(epoch, figure), trainer)
    defined = [(f, -e) for e, f in enumerate(figures, 1) if f is not None]
    if not defined:
        assert best is None
    else:
        figure, negative_epoch = max(defined)
        assert (best.epoch, best.figure) == (-negative_epoch, figure)


# ---------------------------------------------------------------- the epoch's record


def evaluation(year: int, officials: dict[str, float], best: str | None) -> Evaluation:
    scores = {
        name: ScoreFigures(name, (), {"hmean": value}, value) for name, value in officials.items()
    }
    return Evaluation(year, "fan", "dev", 0.1, scores, best)


@pytest.mark.parametrize(("year", "name"), [(2020, "average"), (2022, "hmean")])
def test_a_validated_epoch_records_every_score_and_the_best(cfg, year: int, name: str) -> None:
    result = evaluation(year, {"G_x_2_sum": 0.6, "D_lof": 0.8, "D_knn": math.nan}, "D_lof")
    losses = EpochLosses({"loss_d": -1.0, "loss_g": 2.0}, seconds=4.0, segments=400)
    rec = epoch_record(4, losses, lambda trainer, progress: result, FakeTrainer(cfg))
    assert rec.epoch == 5  # 1-based
    assert (rec.losses, rec.seconds, rec.segments_per_s) == (losses.losses, 4.0, 100.0)
    assert rec.figure_name == name
    assert rec.figures["G_x_2_sum"] == 0.6 and math.isnan(rec.figures["D_knn"])
    assert (rec.best_score, rec.best_figure) == ("D_lof", 0.8)
    assert rec.validation_seconds >= 0.0


def test_an_epoch_without_validation_or_defined_figures_has_no_best(cfg) -> None:
    losses = EpochLosses({"loss_d": 0.0}, seconds=1.0, segments=10)
    plain = epoch_record(0, losses, None, FakeTrainer(cfg))
    assert (plain.figures, plain.best_score, plain.best_figure) == (None, None, None)
    undefined = evaluation(2022, {"D_lof": math.nan}, None)
    rec = epoch_record(0, losses, lambda trainer, progress: undefined, FakeTrainer(cfg))
    assert rec.figures is not None and (rec.best_score, rec.best_figure) == (None, None)
    assert keep_best(None, rec, FakeTrainer(cfg)) is None


# ---------------------------------------------------------------- the saved bundle


def train_sets(n_mels: int = 32) -> list[FeatureSet]:
    rng = np.random.default_rng(0)
    lengths = [40, 36, 44, 38, 40, 42]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = rng.uniform(-80.0, 0.0, (n_mels, int(offsets[-1]))).astype(np.float32)
    clips = [
        Clip(Path(f"clip_{i}.wav"), 2022, "fan", "dev", "train", "00", f"{i:04d}", "source", 0)
        for i in range(len(lengths))
    ]
    return [FeatureSet(clips, data, offsets)]


def weights_of(bundle) -> dict[str, torch.Tensor]:
    detector = Detector.load_file(bundle)
    return {
        **{f"G.{k}": v for k, v in detector.generator.state_dict().items()},
        **{f"D.{k}": v for k, v in detector.discriminator.state_dict().items()},
    }


def prefixed(netG: dict, netD: dict) -> dict[str, torch.Tensor]:
    return {**{f"G.{k}": v for k, v in netG.items()}, **{f"D.{k}": v for k, v in netD.items()}}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k].cpu()) for k in a)


def test_paper_bundle_holds_the_kept_epoch_and_score_and_says_it_used_labels() -> None:
    cfg = config("train.select=paper", "train.epochs=3")
    trainer = FakeTrainer(cfg)
    best, records = run_paper(trainer, [0.5, 0.7, 0.6])
    checkpoint = Checkpoint(cfg, 3, {}, records, best)
    chosen = "G_z_2_min"  # a real score name, not the recipe's (G_z_cos_min for fan 2022)
    best.score = chosen
    assert chosen != cfg.detect.score
    selected = save_selected("pick-paper", cfg, trainer, checkpoint, train_sets(), processes=1)
    assert (selected.epoch, selected.score, selected.figure) == (2, chosen, 0.7)
    assert selected.uses_test_labels and selected.figure_name == "hmean"
    assert same(weights_of(selected.bundle), prefixed(best.netG, best.netD))
    detector = Detector.load_file(selected.bundle)
    assert detector.score_name == chosen
    provenance = detector.provenance
    assert provenance.selection == "paper" and provenance.selection_uses_test_labels is True
    assert provenance.epoch == 2 and provenance.figure.value == 0.7


def test_last_bundle_holds_the_final_weights_and_the_recipe_score() -> None:
    cfg = config("train.select=last", "train.epochs=3")
    trainer = FakeTrainer(cfg)
    best, records = run_paper(trainer, [0.5, 0.7, 0.6])  # a better epoch 2 is ignored
    records[-1].figures = {cfg.detect.score: 0.55}
    checkpoint = Checkpoint(cfg, 3, {}, records, best)
    selected = save_selected("pick-last", cfg, trainer, checkpoint, train_sets(), processes=1)
    assert (selected.epoch, selected.score, selected.figure) == (3, cfg.detect.score, 0.55)
    assert not selected.uses_test_labels
    final = trainer.state_dict()
    assert same(weights_of(selected.bundle), prefixed(final["netG"], final["netD"]))
    detector = Detector.load_file(selected.bundle)
    assert detector.score_name == cfg.detect.score
    assert detector.provenance.selection_uses_test_labels is False


@pytest.mark.parametrize("case", ["not validated", "other scores only", "undefined"])
def test_last_reports_no_figure_unless_the_last_epoch_has_one_for_its_score(case: str) -> None:
    cfg = config("train.select=last", "train.epochs=1")
    other = "D_lof" if cfg.detect.score != "D_lof" else "D_knn"
    last = record(1, None)
    last.figures = {
        "not validated": None,
        "other scores only": {other: 0.9},
        "undefined": {cfg.detect.score: math.nan, other: 0.9},
    }[case]
    checkpoint = Checkpoint(cfg, 1, {}, [last], None)
    selected = save_selected("no-figure", cfg, FakeTrainer(cfg), checkpoint, train_sets(), 1)
    assert selected.figure is None


def test_paper_without_any_defined_figure_says_to_use_last(cfg) -> None:
    paper = config("train.select=paper")
    checkpoint = Checkpoint(paper, 2, {}, [record(1, None), record(2, None)], None)
    with pytest.raises(ModelError) as caught:
        save_selected("nothing", paper, FakeTrainer(paper), checkpoint, train_sets(), 1)
    assert "--select paper" in caught.value.message and "--select last" in caught.value.hint
