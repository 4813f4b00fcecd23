"""Training (docs/method.md section 4): the step, data feeding, selection, checkpoints, resume, DDP."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aegan import paths
from aegan.bundles.registry import bundle_path
from aegan.config.schema import load_config
from aegan.detector.detector import Detector
from aegan.errors import AeganError, DataError, UsageError
from aegan.features.cache import FeatureSet
from aegan.features.segments import Scaler
from aegan.model.nets import Discriminator, Generator
from aegan.score_names import SCORE_NAMES
from aegan.synth.dataset import SynthSpec, write_dataset
from aegan.training import runs
from aegan.training.batching import DeviceFeatures, check_batches
from aegan.training.distributed import Rank, launch
from aegan.training.job import TrainCallbacks, TrainingInterrupted, TrainJob, resumed_config
from aegan.training.loop import train
from aegan.training.losses import feature_matching_loss, gradient_penalty
from aegan.training.wgan import SpeedSettings, Trainer
from tests.numerics import (
    BF16_ROUNDOFF,
    assert_close_after_adam,
    assert_close_after_reordering,
    reordered_sum_rtol,
)

TINY = [
    "net.isize=32", "feat.n_mels=32", "feat.segment_frames=32",
    "net.ndf=8", "net.ngf=8", "net.nz=16", "train.batch_size=32", "train_set=dev",
]  # fmt: skip
DATA = SynthSpec(
    year=22, machines=("fan",), seconds=1.5, train_source=4, train_target=1,
    test_normal=2, test_anomaly=2, subsets=("dev",), seed=3,
)  # fmt: skip
"""15 training clips of 16 segments: 7 batches of 32 per epoch; 24 labelled test clips."""


def tiny_config(*extra: str, machine: str = "fan"):
    return load_config(22, machine, overrides=[*TINY, *extra])


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dcase22")
    write_dataset(root, DATA)
    return root


def state_of(bundle: Path) -> dict[str, torch.Tensor]:
    detector = Detector.load_file(bundle)
    state = {f"G.{k}": v for k, v in detector.generator.state_dict().items()}
    state.update({f"D.{k}": v for k, v in detector.discriminator.state_dict().items()})
    return state


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different


def stray_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, data_root):
    """Two epochs without interruption (paper selection), in a home of its own."""
    home = tmp_path_factory.mktemp("straight_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEGAN_HOME", str(home))
        result = train(TrainJob(tiny_config("train.epochs=2"), data_root, "straight"))
        checkpoint = runs.read_checkpoint(result.run_dir)
    return result, checkpoint


# ---------------------------------------------------------------- the losses


@pytest.mark.numerics
def test_gradient_penalty_is_per_sample_norm_of_the_critic_gradient():
    """A linear critic has gradient w at every input: the penalty is (||w|| - 1)^2 exactly."""
    weight = torch.full((1, 1, 4, 4), 0.5)  # ||w|| = 2

    def critic(x):
        return (x * weight).flatten(1).sum(1, keepdim=True), x.flatten(1)

    real, fake = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    alpha = torch.rand(6, 1, 1, 1)
    assert gradient_penalty(critic, real, fake, alpha).item() == pytest.approx(1.0)

    def squared(x):  # gradient 2*xi, so the penalty depends on where each sample is mixed
        return (x**2).flatten(1).sum(1, keepdim=True), x.flatten(1)

    mixed = alpha * real + (1 - alpha) * fake
    expected = ((2 * mixed.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gradient_penalty(squared, real, fake, alpha).item() == pytest.approx(expected.item())


def test_feature_matching_uses_batch_mean_and_population_std():
    rng = np.random.default_rng(0)
    fake, real = rng.normal(size=(7, 5)), rng.normal(1, 2, size=(7, 5))
    mu = np.mean((fake.mean(0) - real.mean(0)) ** 2)
    sigma = np.mean((fake.std(0, ddof=0) - real.std(0, ddof=0)) ** 2)
    as_torch = torch.tensor(fake), torch.tensor(real)
    assert feature_matching_loss(*as_torch, 1.0, 0.0).item() == pytest.approx(mu)
    assert feature_matching_loss(*as_torch, 0.5, 2.0).item() == pytest.approx(0.5 * mu + 2 * sigma)


# ---------------------------------------------------------------- one step


def reference_step(cfg, G, D, opt_g, opt_d, x, alpha, generator_step):
    """docs/method.md section 4 as written, with the generator run twice as in the original."""
    train = cfg.train
    recon = G(x)
    real_out, _ = D(x)
    fake_out, _ = D(recon.detach())
    penalty = gradient_penalty(D, x, recon.detach(), alpha)
    loss_d = -real_out.mean() + fake_out.mean() + train.lambda_gp * penalty
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    if generator_step:
        recon = G(x)
        _, real_emb = D(x)
        _, fake_emb = D(recon)
        matching = feature_matching_loss(fake_emb, real_emb, train.match_mu, train.match_sigma)
        loss_g = F.mse_loss(recon, x) + train.feat_match_eff * matching
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()


@pytest.mark.parametrize("ncritic", [1, 2])
def test_one_generator_pass_per_batch_trains_exactly_like_two(ncritic):
    """gearbox 2022: BatchNorm generator, mean+std matching. Weights, BN buffers, Adam states."""
    cfg = tiny_config(f"train.ncritic={ncritic}", machine="gearbox")
    assert cfg.net.norm_g == "bn" and cfg.train.match_sigma > 0
    torch.manual_seed(0)
    G, D = Generator(cfg.net), Discriminator(cfg.net)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    trainer = Trainer(cfg, G, D)
    betas = (cfg.train.beta1, cfg.train.beta2)
    opt_g = torch.optim.Adam(G_ref.parameters(), lr=cfg.train.lr_g, betas=betas)
    opt_d = torch.optim.Adam(D_ref.parameters(), lr=cfg.train.lr_d, betas=betas)
    for b in range(4):
        x, alpha = torch.rand(8, 1, 32, 32) * 2 - 1, torch.rand(8, 1, 1, 1)
        trainer.step(x, alpha, generator_step=b % ncritic == 0)
        reference_step(cfg, G_ref, D_ref, opt_g, opt_d, x, alpha, b % ncritic == 0)
    assert_same_tensors(G.state_dict(), G_ref.state_dict())
    assert_same_tensors(D.state_dict(), D_ref.state_dict())
    assert G.state_dict()["Decoder.main.1.num_batches_tracked"].item() == 4 + 4 // ncritic
    for ours, theirs in ((trainer.opt_g, opt_g), (trainer.opt_d, opt_d)):
        for p, q in zip(ours.state.values(), theirs.state.values(), strict=True):
            assert torch.equal(p["exp_avg_sq"], q["exp_avg_sq"])


# ---------------------------------------------------------------- data feeding


def feature_sets(lengths: list[int], n_mels: int = 32, seed: int = 0) -> list[FeatureSet]:
    rng = np.random.default_rng(seed)
    sets = []
    for group in (lengths[:2], lengths[2:]):
        offsets = np.concatenate([[0], np.cumsum(group)]).astype(np.int64)
        data = rng.uniform(-80, 0, (n_mels, int(offsets[-1]))).astype(np.float32)
        sets.append(FeatureSet([None] * len(group), data, offsets))
    return sets


def test_batches_are_the_scaled_segments_of_the_clips():
    sets = feature_sets([40, 32, 50, 35])
    scaler = Scaler(max=0.0, min=-80.0)
    data = DeviceFeatures.upload(sets, scaler, torch.device("cpu"), frames=32, hop=2)
    expected = [scaler(s) for fs in sets for s in np.concatenate(fs.all_segments(32, 2))]
    assert data.n_segments == len(expected) == 5 + 1 + 10 + 2  # none crosses a clip boundary
    picks = torch.tensor([17, 0, 6, 5, 16])
    batch = data.batch(picks)
    assert batch.shape == (5, 1, 32, 32) and batch.is_contiguous()
    for row, index in zip(batch, picks.tolist(), strict=True):
        np.testing.assert_allclose(row[0].numpy(), expected[index], rtol=1e-6)
    views = data.clip_segments()
    np.testing.assert_allclose(views[2][3].numpy(), expected[6 + 3], rtol=1e-6)


def test_each_epoch_is_a_new_shuffle_of_full_batches():
    cfg = tiny_config("train.batch_size=4")
    torch.manual_seed(0)
    trainer = Trainer(cfg, Generator(cfg.net), Discriminator(cfg.net))
    data = DeviceFeatures.upload(
        feature_sets([40, 32, 50, 35]), Scaler(0.0, -80.0), torch.device("cpu"), 32, 1
    )  # 9 + 1 + 19 + 4 = 33 segments: 8 batches, 1 segment left out
    seen: list[list[torch.Tensor]] = [[], []]
    for epoch in (0, 1):
        trainer.run_epoch(
            data, epoch, lambda r, e=epoch: seen[e].append(r.indices), report_interval=0
        )
    first, second = (torch.cat(s) for s in seen)
    assert len(seen[0]) == 8 and len(first) == 32 and len(set(first.tolist())) == 32
    assert not torch.equal(first, second)


def test_too_few_segments_for_a_batch_says_how_many_and_what_to_set():
    with pytest.raises(DataError) as caught:
        check_batches(300, 512, world=1)
    assert "300 segments" in caught.value.message
    assert "--set train.batch_size=256" in caught.value.hint


# ---------------------------------------------------------------- runs, selection, bundles


def test_paper_selection_keeps_the_best_epoch_and_score_and_says_it_used_test_labels(
    straight_run,
):
    result, checkpoint = straight_run
    history = checkpoint.history
    assert [r.epoch for r in history] == [1, 2]
    best = max(history, key=lambda r: r.best_figure)  # first of equals, as the original
    assert (result.epoch, result.score, result.figure) == (
        best.epoch,
        best.best_score,
        best.best_figure,
    )
    assert result.figure == max(history[best.epoch - 1].figures.values())
    detector = Detector.load_file(result.bundle)
    assert detector.score_name == best.best_score
    provenance = detector.provenance
    assert provenance.source == "trained" and provenance.selection == "paper"
    assert provenance.selection_uses_test_labels is True
    assert provenance.epoch == best.epoch and provenance.seed == 783
    assert_same_tensors(
        {f"G.{k}": v for k, v in checkpoint.best.netG.items()},
        {k: v for k, v in state_of(result.bundle).items() if k.startswith("G.")},
    )


def test_each_epoch_is_logged_with_losses_all_figures_and_speed(straight_run):
    result, _ = straight_run
    lines = (result.run_dir / runs.HISTORY).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [1, 2]
    for record in records:
        assert set(record["figures"]) == set(SCORE_NAMES) and record["figure_name"] == "hmean"
        assert record["best_figure"] == max(record["figures"].values())
        assert all(math.isfinite(record["losses"][k]) for k in ("loss_d", "loss_g", "recon"))
        assert record["seconds"] > 0 and record["segments_per_s"] > 0
    assert (result.run_dir / runs.CURVES).read_bytes().startswith(b"\x89PNG")


def test_resuming_gives_the_same_model_as_an_uninterrupted_run(data_root, straight_run):
    first = train(TrainJob(tiny_config("train.epochs=1"), data_root, "halves"))
    assert first.epochs == 1
    resumed = train(TrainJob(tiny_config("train.epochs=2"), data_root, "halves", resume=True))
    assert_same_tensors(state_of(resumed.bundle), state_of(straight_run[0].bundle))
    straight = straight_run[1]
    assert_same_tensors(
        runs.read_checkpoint(resumed.run_dir).state["optD"]["state"][0],
        straight.state["optD"]["state"][0],
    )
    assert [r.figures for r in resumed.history] == [r.figures for r in straight.history]


def test_ctrl_c_mid_epoch_keeps_the_last_epoch_and_resume_finishes_the_same(
    data_root, straight_run
):
    def interrupt_in_second_epoch(report):
        if report.epoch == 2 and report.batch == 3:
            raise KeyboardInterrupt

    callbacks = TrainCallbacks(on_batch=interrupt_in_second_epoch, report_interval=0)
    job = TrainJob(tiny_config("train.epochs=2"), data_root, "cut")
    with pytest.raises(TrainingInterrupted) as caught:
        train(job, callbacks=callbacks)
    assert caught.value.epochs_done == 1 and "--resume" in caught.value.hint
    assert runs.read_checkpoint(runs.run_dir("cut")).epoch == 1
    assert not bundle_path("cut").exists()
    assert not stray_files(paths.cache_dir())
    resumed = train(TrainJob(job.cfg, data_root, "cut", resume=True))
    assert_same_tensors(state_of(resumed.bundle), state_of(straight_run[0].bundle))


def test_last_selection_needs_no_test_set_and_keeps_the_final_weights(data_root, tmp_path):
    root = tmp_path / "no_test"
    (root / "dev_data/fan").mkdir(parents=True)
    (root / "dev_data/fan/train").symlink_to(data_root / "dev_data/fan/train")
    cfg = tiny_config("train.epochs=1", "train.select=paper")
    with pytest.raises(DataError, match="--select paper") as caught:
        train(TrainJob(cfg, root, "nolabels"))
    assert "--select last" in caught.value.hint and not runs.run_dir("nolabels").exists()
    cfg = tiny_config("train.epochs=1", "train.select=last")
    result = train(TrainJob(cfg, root, "nolabels"))
    assert result.score == cfg.detect.score and result.epoch == 1 and result.figure is None
    assert result.history[0].figures is None
    provenance = Detector.load_file(result.bundle).provenance
    assert provenance.selection_uses_test_labels is False
    final = runs.read_checkpoint(result.run_dir).state["netG"]
    assert_same_tensors(
        {f"G.{k}": v for k, v in final.items()},
        {k: v for k, v in state_of(result.bundle).items() if k.startswith("G.")},
    )


def test_existing_names_are_refused_unless_forced(data_root):
    bundle_path("taken").parent.mkdir(parents=True)
    bundle_path("taken").write_bytes(b"x")
    job = TrainJob(tiny_config("train.epochs=1", "train.select=last"), data_root, "taken")
    with pytest.raises(UsageError, match="already exists"):
        train(job)
    with pytest.raises(UsageError, match="published model"):
        train(TrainJob(job.cfg, data_root, "fan22"))
    result = train(TrainJob(job.cfg, data_root, "taken", force=True))
    assert Detector.load_file(result.bundle).name == "taken"


def test_an_unwritable_home_fails_before_any_work(data_root, aegan_home):
    paths.cache_dir().mkdir(parents=True)
    paths.runs_dir().write_text("a file where the runs folder should be")
    job = TrainJob(tiny_config("train.epochs=1"), data_root, "blocked")
    with pytest.raises(AeganError, match="Cannot write"):
        train(job)
    assert not paths.features_dir().exists() and not paths.models_dir().exists()


def test_a_resumed_run_may_only_change_epochs_and_speed_options():
    saved = tiny_config("train.epochs=2")
    assert resumed_config(saved, None, ["train.epochs=5"]).train.epochs == 5
    with pytest.raises(UsageError, match="train.feat_match_eff"):
        resumed_config(saved, None, ["train.feat_match_eff=1"])


def test_speed_options_are_ignored_on_the_cpu_with_a_note():
    cfg = tiny_config("train.precision=bf16", "train.compile=true")
    speed, notes = SpeedSettings.resolve(cfg, torch.device("cpu"), world=1)
    assert speed == SpeedSettings() and len(notes) == 2
    assert all("CUDA" in note for note in notes)


def _two_steps(speed: SpeedSettings) -> tuple[torch.Tensor, Trainer]:
    cfg = tiny_config(machine="gearbox")
    torch.manual_seed(0)
    trainer = Trainer(cfg, Generator(cfg.net), Discriminator(cfg.net), speed=speed)
    x, alpha = torch.rand(8, 1, 32, 32) * 2 - 1, torch.rand(8, 1, 1, 1)
    losses = [trainer.step(x, alpha, generator_step=True) for _ in range(2)]
    return losses[-1], trainer


LOSS_TERMS = 8 * 32 * 32
"""The largest float32 sums of ``_two_steps``: means over 8 segments of 32 x 32 values."""


@pytest.mark.numerics
@pytest.mark.parametrize(
    ("speed", "rtol"),
    [
        # channels_last runs other convolution kernels: the same sums in another order.
        (SpeedSettings(channels_last=True), reordered_sum_rtol(LOSS_TERMS)),
        # bf16 rounds every activation (2**-8 each); through the layers, the penalty's double
        # backward and (||g|| - 1)^2, which triples ||g||'s relative error: 16 roundings.
        (SpeedSettings(bf16=True), 16 * BF16_ROUNDOFF),
    ],
    ids=["channels_last", "bf16"],
)
def test_speed_options_change_the_speed_not_the_training(speed, rtol):
    """channels_last reorders sums; bf16 autocast (the penalty's double backward too) is close."""
    expected, _ = _two_steps(SpeedSettings())
    losses, trainer = _two_steps(speed)
    torch.testing.assert_close(losses, expected, rtol=rtol, atol=0)
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())


@pytest.mark.slow
def test_compiled_forward_passes_train_like_eager_ones():
    """torch.compile (inductor on the CPU here; on CUDA in use) with the eager penalty pass."""
    expected, reference = _two_steps(SpeedSettings())
    losses, trainer = _two_steps(SpeedSettings(compile=True))
    # Inductor fuses and reorders the forward sums; the weights took two Adam steps.
    torch.testing.assert_close(losses, expected, rtol=reordered_sum_rtol(LOSS_TERMS), atol=0)
    pairs = zip(trainer.generator.parameters(), reference.generator.parameters(), strict=True)
    lr = tiny_config(machine="gearbox").train.lr_g
    assert_close_after_adam([(ours, theirs, lr) for ours, theirs in pairs], 2, LOSS_TERMS)


def test_default_names_carry_machine_year_and_time():
    from datetime import datetime

    name = runs.default_name(tiny_config(), datetime(2024, 1, 31, 17, 45, 0))
    assert name == "fan22-20240131-174500"
    runs.check_name(name)
    with pytest.raises(UsageError):
        runs.check_name("../escape")


# ---------------------------------------------------------------- several processes


def _ddp_worker(rank: Rank, report, cfg, spectrogram: np.ndarray, epochs: int):
    """Train on one rank; rank 0 returns every rank's batches, gradients and final weights."""
    import torch.distributed as dist

    trainer, seen = _run_epochs(cfg, rank, spectrogram, epochs)
    report(("epochs", epochs))
    everything = [None] * rank.world
    dist.all_gather_object(everything, (seen, _weights(trainer)))
    return everything


def _run_epochs(cfg, rank: Rank, spectrogram: np.ndarray, epochs: int):
    """Each reported batch: (epoch, segment indices, gradients of both nets after the step)."""
    torch.manual_seed(cfg.train.seed)
    trainer = Trainer(cfg, Generator(cfg.net), Discriminator(cfg.net), rank)
    data = DeviceFeatures(torch.from_numpy(spectrogram), np.array([0, 60, 130]), 32, 1)
    nets = {"G": trainer.generator, "D": trainer.discriminator}
    seen = []

    def record(report):
        grads = {
            f"{n}.{k}": p.grad.clone() for n, net in nets.items() for k, p in net.named_parameters()
        }
        seen.append((report.epoch, report.indices.tolist(), grads))

    for epoch in range(epochs):
        trainer.run_epoch(data, epoch, record, report_interval=0)
    return trainer, seen


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    state = trainer.state_dict()
    weights = {f"G.{k}": v.clone() for k, v in state["netG"].items()}
    weights.update({f"D.{k}": v.clone() for k, v in state["netD"].items()})
    weights.update(
        {f"optD.{k}": v["exp_avg_sq"].clone() for k, v in state["optD"]["state"].items()}
    )
    return weights


@pytest.mark.numerics
def test_two_processes_train_disjoint_shards_with_the_gradients_of_the_whole_batch():
    """gloo on the CPU, 2020 pump (mean and std feature matching).

    The ranks end with identical weights and optimiser states, split each
    batch between them, and every step's gradients (the penalty's double
    backward and the gathered embedding statistics included) equal those of
    one process on the whole batch. The learning rate is negligible so that
    both runs see the same weights at every step.
    """
    cfg = load_config(
        20,
        "pump",
        overrides=[*TINY[:-2], "train.batch_size=16", "train.lr_d=1e-9", "train.lr_g=1e-9"],
    )
    spectrogram = np.random.default_rng(1).uniform(-1, 1, (130, 32)).astype(np.float32)
    relayed = []
    ranks = launch(_ddp_worker, (cfg, spectrogram, 2), [torch.device("cpu")] * 2, relayed.append)
    assert relayed == [("epochs", 2)]
    (seen0, weights0), (seen1, weights1) = ranks
    assert_same_tensors(weights0, weights1)
    assert len(seen0) == len(seen1) == 2 * 4  # 29 + 39 segments per epoch: 4 full batches of 16
    _, single = _run_epochs(cfg, Rank(), spectrogram, 2)
    for (epoch0, batch0, grads0), (epoch1, batch1, grads1), (epoch, whole, expected) in zip(
        seen0, seen1, single, strict=True
    ):
        assert epoch0 == epoch1 == epoch and len(batch0) == len(batch1) == 8
        assert whole == batch0 + batch1
        assert_same_tensors(grads0, grads1)
        # Two ranks sum each gradient in another order than one process: float32 rounding
        # of the largest sums, a first-layer weight's over 16 samples x 16 x 16 positions.
        terms = cfg.train.batch_size * (cfg.net.isize // 2) ** 2
        for key, value in expected.items():
            assert_close_after_reordering(grads0[key], value, terms, key)


def test_training_on_two_processes_saves_the_model_one_process_would(data_root, straight_run):
    """The spawned path end to end: rank 0's epochs reach this process; its bundle matches."""
    epochs = []
    result = train(
        TrainJob(tiny_config("train.epochs=2"), data_root, "pair"),
        devices=[torch.device("cpu")] * 2,
        callbacks=TrainCallbacks(on_epoch=epochs.append),
    )
    assert [r.epoch for r in epochs] == [1, 2] and epochs[1].figures is not None
    ours, theirs = state_of(result.bundle), state_of(straight_run[0].bundle)
    # The two ranks sum each gradient in another order than one process; the largest sums:
    # a first-layer weight's over a batch of 32 segments x 16 x 16 positions.
    train_cfg = tiny_config("train.epochs=2").train
    steps = train_cfg.epochs * (15 * 16 // train_cfg.batch_size)  # 7 batches an epoch (DATA)
    terms = train_cfg.batch_size * 16 * 16
    pairs = [
        (ours[k], theirs[k], train_cfg.lr_g if k.startswith("G.") else train_cfg.lr_d)
        for k in theirs
    ]
    assert_close_after_adam(pairs, steps, terms)
    assert Detector.load_file(result.bundle).provenance.processes == 2
