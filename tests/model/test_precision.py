"""Scoring precision: fp32 is the exact path, bf16 runs the networks in bfloat16."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aegan.config.schema import NetConfig
from aegan.errors import UsageError
from aegan.model import precision as precision_module
from aegan.model.nets import Discriminator, Generator
from aegan.model.precision import check_precision, network_precision, parse_precision
from aegan.model.scores import clip_embeddings, score_clips, segment_outputs
from aegan.score_names import G_SCORE_NAMES, score_index

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


def test_bf16_outputs_are_fp32_and_close_to_fp32(nets, fast_bf16):
    x = torch.from_numpy(_clips([16])[0]).unsqueeze(1)
    exact = segment_outputs(*nets, x)
    rounded = segment_outputs(*nets, x, "bf16")
    for name in ("x_1", "x_2", "z_1", "z_2", "z_cos", "embedding"):
        a, b = getattr(exact, name), getattr(rounded, name)
        assert b.dtype == torch.float32
        assert not torch.equal(a, b)  # bf16 really rounds
        # A few bf16 roundings (2**-8 each) through 4-5 layers: a few per cent at most.
        torch.testing.assert_close(b, a, rtol=0.1, atol=0.1 * float(a.abs().max()))


def test_bf16_clip_scores_rank_like_fp32(nets, fast_bf16):
    clips = _clips([3, 5, 4, 6, 2, 7, 3, 5], seed=3)
    exact = score_clips(*nets, clips, batch_size=7)
    rounded = score_clips(*nets, clips, batch_size=7, precision="bf16")
    for name in G_SCORE_NAMES:
        column = score_index(name)
        np.testing.assert_allclose(rounded.values[:, column], exact.values[:, column], rtol=0.05)
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
