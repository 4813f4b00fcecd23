"""One epoch of AEGAN-AD training: WGAN-GP with feature matching (docs/method.md section 4).

Per batch x: a critic step ``L_D = -mean D(x) + mean D(r) + lambda_gp * GP``
with ``r = G(x)`` detached, then (every ``ncritic`` batches) a generator step
``L_G = MSE(r, x) + feat_match_eff * FM`` through the updated critic.

The original computes ``r = G(x)`` twice per batch with G unchanged in
between; here it is computed once and kept for the generator step. The two
passes give the same output, but a BatchNorm generator updates its running
statistics once per pass, so each BatchNorm layer replays its running-statistics
update once more on the same input (``replay_batchnorm_updates``): the buffers
end bit for bit where the original's do, for the cost of a BatchNorm rather
than a generator pass.

The data comes from ``aegan.training.batching``: batches gathered by index from the
features on the device, in an order fixed by (seed, epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from aegan.config.schema import Config
from aegan.model.nets import Discriminator, Generator
from aegan.training.batching import (
    ALPHA_STREAM,
    SHUFFLE_STREAM,
    DeviceFeatures,
    batches_per_epoch,
    epoch_seed,
    rank_share,
)
from aegan.training.distributed import Rank, gather_rows, mean_over_ranks, wrap
from aegan.training.losses import feature_matching_loss, gradient_penalty, replay_batchnorm_updates

LOSS_NAMES = ("loss_d", "gradient_penalty", "loss_g", "recon", "feat_match")


# ---------------------------------------------------------------- losses


# ---------------------------------------------------------------- BatchNorm replay


# ---------------------------------------------------------------- speed options


@dataclass(frozen=True)
class SpeedSettings:
    """How the step runs on its device; none of these changes the method."""

    bf16: bool = False  # torch.autocast to bfloat16 for the forward passes
    channels_last: bool = False
    compile: bool = False  # torch.compile the forward passes (not the gradient penalty's)

    @classmethod
    def resolve(
        cls, cfg: Config, device: torch.device, world: int
    ) -> tuple[SpeedSettings, list[str]]:
        """The settings the config asks for that this device supports, and notes on the rest."""
        notes: list[str] = []
        cuda = device.type == "cuda"
        bf16 = cfg.train.precision == "bf16"
        if bf16 and not cuda:
            notes.append("--precision bf16 applies to CUDA GPUs only; training in fp32 on the CPU.")
            bf16 = False
        compiled = cfg.train.compile
        if compiled and not cuda:
            notes.append("--compile applies to CUDA GPUs only; training uncompiled on the CPU.")
            compiled = False
        if compiled and world > 1:
            notes.append("--compile is not used with several GPUs; training uncompiled.")
            compiled = False
        return cls(bf16=bf16, channels_last=cuda, compile=compiled), notes


# ---------------------------------------------------------------- the trainer


@dataclass
class BatchReport:
    """Where an epoch stands, for progress displays."""

    epoch: int  # 1-based
    batch: int  # batches done in this epoch
    batches: int
    losses: dict[str, float]  # running means over the epoch so far
    segments_per_s: float
    indices: torch.Tensor | None = field(default=None, repr=False)  # this rank's latest batch


@dataclass
class EpochLosses:
    losses: dict[str, float]  # means over the epoch (and over ranks)
    seconds: float
    segments: int  # segments trained on, all ranks together

    @property
    def segments_per_s(self) -> float:
        return self.segments / self.seconds if self.seconds > 0 else 0.0


class Trainer:
    """Both networks, their optimisers, and the training step on one device (one rank)."""

    def __init__(
        self,
        cfg: Config,
        generator: Generator,
        discriminator: Discriminator,
        rank: Rank = Rank(),
        speed: SpeedSettings = SpeedSettings(),
    ) -> None:
        self.cfg = cfg
        self.rank = rank
        self.speed = speed
        layout = torch.channels_last if speed.channels_last else torch.contiguous_format
        self.generator = generator.to(rank.device, memory_format=layout).train()
        self.discriminator = discriminator.to(rank.device, memory_format=layout).train()
        train = cfg.train
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(), lr=train.lr_g, betas=(train.beta1, train.beta2)
        )
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=train.lr_d, betas=(train.beta1, train.beta2)
        )
        self._g = wrap(self.generator, rank)
        self._d = wrap(self.discriminator, rank)
        # Forward passes that need no double backward may be compiled; the penalty's may not.
        self._g_fast = torch.compile(self._g) if speed.compile else self._g
        self._d_fast = torch.compile(self._d) if speed.compile else self._d
        self._d_plain = self._d_fast if self._d is self.discriminator else self.discriminator
        self._g_params = list(self.generator.parameters())

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.rank.device.type, torch.bfloat16, enabled=self.speed.bf16)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.speed.channels_last else x

    # ------------------------------------------------------------ one batch

    def step(self, x: torch.Tensor, alpha: torch.Tensor, generator_step: bool) -> torch.Tensor:
        """One critic step and, if asked, one generator step; returns the losses (LOSS_NAMES).

        ``alpha`` (B, 1, 1, 1) mixes real and reconstructed segments for the
        penalty. Losses of a skipped generator step are zero.
        """
        x = self._layout(x)
        train = self.cfg.train
        with (
            torch.set_grad_enabled(generator_step),
            self._generator_pass(generator_step),
            self._autocast(),
        ):
            r = self._g_fast(x)
        fake = r.detach()
        with self._autocast():
            real_out, _ = self._d_fast(x)
            fake_out, _ = self._d_fast(fake)
            penalty = gradient_penalty(self._d, x, fake, alpha)
        loss_d = -real_out.float().mean() + fake_out.float().mean() + train.lambda_gp * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        if not generator_step:
            zero = loss_d.new_zeros(())
            return torch.stack([loss_d, penalty, zero, zero, zero]).detach()
        loss_g, recon, matching = self._generator_loss(x, r)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=self._g_params)  # the critic's weight gradients are not needed
        self.opt_g.step()
        return torch.stack([loss_d, penalty, loss_g, recon, matching]).detach()

    @contextmanager
    def _generator_pass(self, generator_step: bool) -> Iterator[None]:
        """The one generator pass stands for the original's two when a generator step follows."""
        if generator_step:
            with replay_batchnorm_updates(self.generator):
                yield
        else:
            yield

    def _generator_loss(
        self, x: torch.Tensor, r: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``MSE(r, x) + feat_match_eff * FM`` with the embeddings of the updated critic.

        The critic runs unwrapped here: no critic weight is trained by this loss.
        Under several ranks the embedding statistics cover the whole global batch.
        """
        train = self.cfg.train
        with self._autocast():
            with torch.no_grad():
                _, real_emb = self._d_plain(x)
            _, fake_emb = self._d_plain(r)
        real_emb = gather_rows(real_emb.float(), self.rank)
        fake_emb = gather_rows(fake_emb.float(), self.rank)
        recon = F.mse_loss(r.float(), x)
        matching = feature_matching_loss(fake_emb, real_emb, train.match_mu, train.match_sigma)
        return recon + train.feat_match_eff * matching, recon, matching

    # ------------------------------------------------------------ one epoch

    def run_epoch(
        self,
        data: DeviceFeatures,
        epoch: int,
        on_batch: Callable[[BatchReport], None] | None = None,
        report_interval: float = 0.5,
    ) -> EpochLosses:
        """Train on one shuffled pass over the segments (epoch counts from 0).

        ``on_batch`` hears at most every ``report_interval`` seconds and after
        the last batch (reading the losses waits for the device).
        """
        train, device = self.cfg.train, self.rank.device
        seed = train.seed
        shuffle = torch.Generator().manual_seed(epoch_seed(seed, epoch, SHUFFLE_STREAM))
        order = torch.randperm(data.n_segments, generator=shuffle).to(device)
        draws = torch.Generator(device=device).manual_seed(epoch_seed(seed, epoch, ALPHA_STREAM))
        batches = batches_per_epoch(data.n_segments, train.batch_size)
        own = rank_share(0, train.batch_size, self.rank)  # this rank's rows of each alpha draw
        totals = torch.zeros(len(LOSS_NAMES), device=device)
        g_steps = 0
        started = last_report = time.perf_counter()
        for b in range(batches):
            indices = order[rank_share(b, train.batch_size, self.rank)]
            alpha = torch.rand((train.batch_size, 1, 1, 1), generator=draws, device=device)[own]
            generator_step = b % train.ncritic == 0
            totals += self.step(data.batch(indices), alpha, generator_step)
            g_steps += generator_step
            now = time.perf_counter()
            if on_batch is not None and (now - last_report >= report_interval or b + 1 == batches):
                last_report = now
                means = _loss_means(totals, b + 1, g_steps)
                rate = (b + 1) * train.batch_size / (now - started)
                on_batch(BatchReport(epoch + 1, b + 1, batches, means, rate, indices))
        totals = mean_over_ranks(totals, self.rank)
        seconds = time.perf_counter() - started
        return EpochLosses(
            _loss_means(totals, batches, g_steps), seconds, batches * train.batch_size
        )

    # ------------------------------------------------------------ state

    def state_dict(self) -> dict:
        return {
            "netG": self.generator.state_dict(),
            "netD": self.discriminator.state_dict(),
            "optG": self.opt_g.state_dict(),
            "optD": self.opt_d.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["netG"])
        self.discriminator.load_state_dict(state["netD"])
        self.opt_g.load_state_dict(state["optG"])
        self.opt_d.load_state_dict(state["optD"])


def _loss_means(totals: torch.Tensor, batches: int, g_steps: int) -> dict[str, float]:
    """Critic losses average over all batches, generator losses over generator steps."""
    values = totals.tolist()
    counts = [batches, batches, g_steps, g_steps, g_steps]
    return {
        name: value / count if count else 0.0
        for name, value, count in zip(LOSS_NAMES, values, counts, strict=True)
    }
