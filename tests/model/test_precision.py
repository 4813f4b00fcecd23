"""Scoring precision: fp32 is the exact path, bf16 runs the networks in bfloat16."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from aegan.config.schema import NetConfig
from aegan.errors import UsageError
from aegan.model import precision as precision_module
from aegan.model.nets import Discriminator, Generator
from aegan.model.precision import (
    check_precision,
    cpu_has_bf16,
    network_precision,
    parse_precision,
)
from aegan.model.scores import clip_embeddings, score_clips, segment_outputs
from aegan.score_names import G_SCORE_NAMES, score_index
from tests.numerics import bf16_network_rtol

NET = NetConfig(isize=32, nz=16, ndf=8, ngf=8)


@pytest.fixture
def fast_bf16(monkeypatch):
    """bf16 allowed on this CPU whatever its instructions: these tests check numbers, not speed."""
    monkeypatch.setattr(precision_module, "bf16_is_fast", lambda device_type: True)


@pytest.fixture(scope="module")
def nets() -> tuple[Generator, Discriminator]:
    torch.manual_seed(0)
    return Generator(NET).eval(), Discriminator(NET).eval()


def _clips(counts: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n, 32, 32)).astype(np.float32) for n in counts]


@pytest.mark.parametrize("given, expected", [("fp32", "fp32"), ("BF16", "bf16"), (" bf16", "bf16")])
def test_parse_precision_accepts_known_names(given, expected):
    assert parse_precision(given) == expected


@pytest.mark.parametrize("given", ["fp16", "bf32", "", "float32"])
def test_parse_precision_rejects_others_with_a_usage_error(given):
    with pytest.raises(UsageError, match="Unknown precision"):
        parse_precision(given)


def test_fp32_block_changes_nothing(nets):
    x = torch.from_numpy(_clips([5])[0]).unsqueeze(1)
    with torch.no_grad():
        plain = nets[0](x)
        with network_precision("fp32", x.device):
            inside = nets[0](x)
    assert inside.dtype == torch.float32
    assert torch.equal(plain, inside)


def test_bf16_block_runs_the_convolutions_in_bfloat16(nets, fast_bf16):
    x = torch.from_numpy(_clips([5])[0]).unsqueeze(1)
    with torch.no_grad(), network_precision("bf16", x.device):
        z = nets[0].encode(x)
    assert z.dtype == torch.bfloat16


CONVOLUTIONS = {"x_1": 8, "x_2": 8, "z_1": 12, "z_2": 12, "z_cos": 12, "embedding": 4}
"""Convolutions behind each output of the isize-32 networks: encoder and decoder 4 each
(x: encode, decode; z: encode again), the critic 3 stages and its depthwise layer."""


def test_bf16_outputs_are_fp32_and_close_to_fp32(nets, fast_bf16):
    x = torch.from_numpy(_clips([16])[0]).unsqueeze(1)
    exact = segment_outputs(*nets, x)
    rounded = segment_outputs(*nets, x, "bf16")
    for name, convolutions in CONVOLUTIONS.items():
        a, b = getattr(exact, name), getattr(rounded, name)
        assert b.dtype == torch.float32
        assert not torch.equal(a, b)  # bf16 really rounds
        atol = bf16_network_rtol(convolutions) * float(a.abs().max())
        torch.testing.assert_close(b, a, rtol=0, atol=atol, msg=lambda m, n=name: f"{n}: {m}")


def spearman_floor(exact: np.ndarray, tolerance: float) -> float:
    """The least rank correlation when only scores within ``tolerance`` of each other swap.

    A clip close to c others may move at most c ranks: sum(d^2) <= sum(c^2).
    """
    n = exact.size
    close = (np.abs(exact[:, None] - exact[None, :]) <= tolerance).sum(axis=1) - 1
    return 1 - 6 * float((close**2).sum()) / (n * (n**2 - 1))


def test_bf16_clip_scores_rank_like_fp32(nets, fast_bf16):
    clips = _clips([3, 5, 4, 6, 2, 7, 3, 5], seed=3)
    exact = score_clips(*nets, clips, batch_size=7)
    rounded = score_clips(*nets, clips, batch_size=7, precision="bf16")
    for name in G_SCORE_NAMES:
        column = score_index(name)
        a, b = exact.values[:, column], rounded.values[:, column]
        rtol = bf16_network_rtol(CONVOLUTIONS[name.rsplit("_", 1)[0].removeprefix("G_")])
        tolerance = rtol * float(np.abs(a).max())
        np.testing.assert_allclose(b, a, rtol=0, atol=tolerance, err_msg=name)
        # Clips further apart than both errors together keep their order under bf16.
        apart = np.abs(a[:, None] - a[None, :]) > 2 * tolerance
        same_order = np.sign(a[:, None] - a[None, :]) == np.sign(b[:, None] - b[None, :])
        assert same_order[apart].all(), name
        rho = scipy.stats.spearmanr(a, b).statistic
        assert rho >= spearman_floor(a, 2 * tolerance), (name, rho)
    embeddings = clip_embeddings(nets[1], clips, batch_size=7, precision="bf16")
    np.testing.assert_allclose(embeddings, rounded.embeddings, rtol=1e-6, atol=1e-6)


def test_score_clips_rejects_an_unknown_precision(nets):
    with pytest.raises(UsageError, match="Unknown precision"):
        score_clips(*nets, _clips([2]), precision="fp16")  # type: ignore[arg-type]


def test_bf16_is_refused_where_it_would_only_be_emulated(nets, monkeypatch):
    monkeypatch.setattr(precision_module, "bf16_is_fast", lambda device_type: False)
    with pytest.raises(UsageError, match="no bf16 arithmetic"):
        score_clips(*nets, _clips([2]), precision="bf16")
    assert check_precision("fp32", torch.device("cpu")) == "fp32"


@pytest.mark.parametrize(
    ("flags", "fast"),
    [
        ("fpu sse4_2 avx2 avx512f avx512bw", False),  # AVX512 without its bf16 extension
        ("fpu avx2 avx512f avx512_bf16", True),
        ("fpu avx2 amx_bf16 amx_tile", True),
    ],
)
def test_bf16_counts_as_fast_where_the_cpu_flags_name_bf16_instructions(tmp_path, flags, fast):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_has_bf16(cpuinfo) is fast
    assert cpu_has_bf16(tmp_path / "absent") is False
