"""The names of AEGAN-AD's 19 anomaly scores and what each name says.

A generator score is ``G_<space>_<distance>_<pool>``: the per-segment distance
(``x_1``, ``x_2``, ``z_1``, ``z_2``, ``z_cos``) pooled over a clip's segments by
``sum``, ``min`` or ``max``. A discriminator score is ``D_<detector>``. Kept apart
from the scoring code so that config, figures and the command line can name
scores without importing torch.
"""

from __future__ import annotations

import numpy as np

from aegan.errors import UsageError, did_you_mean

SCORE_NAMES: tuple[str, ...] = (
    "D_maha", "D_knn", "D_lof", "D_cos",
    "G_x_2_sum", "G_x_2_min", "G_x_2_max", "G_x_1_sum", "G_x_1_min", "G_x_1_max",
    "G_z_2_sum", "G_z_2_min", "G_z_2_max", "G_z_1_sum", "G_z_1_min", "G_z_1_max",
    "G_z_cos_sum", "G_z_cos_min", "G_z_cos_max",
)  # fmt: skip
"""The 19 anomaly scores, in the original code's order (docs/method.md section 5)."""

D_SCORE_NAMES: tuple[str, ...] = tuple(n for n in SCORE_NAMES if n.startswith("D_"))
G_SCORE_NAMES: tuple[str, ...] = tuple(n for n in SCORE_NAMES if n.startswith("G_"))
DISTANCES: tuple[str, ...] = ("x_1", "x_2", "z_1", "z_2", "z_cos")
"""Per-segment distances, named ``<space>_<dist>`` as in the score names."""
POOLS: tuple[str, ...] = ("sum", "min", "max")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def score_index(name: str) -> int:
    """The column of a score in ``ClipScores.values`` (the original's order)."""
    if name not in SCORE_NAMES:
        raise UsageError(f"Unknown anomaly score {name!r}.", did_you_mean(name, SCORE_NAMES))
    return SCORE_NAMES.index(name)


def generator_score_parts(name: str) -> tuple[str, str]:
    """``G_z_cos_min`` -> (``z_cos``, ``min``): the segment distance and the pooling."""
    distance, _, pool = name.removeprefix("G_").rpartition("_")
    if distance not in DISTANCES or pool not in POOLS:
        raise UsageError(
            f"{name!r} is not a generator score.", f"Known: {', '.join(G_SCORE_NAMES)}."
        )
    return distance, pool


def nan_to_max(values: np.ndarray) -> np.ndarray:
    """A NaN score (e.g. from a diverged model) ranks as the most anomalous."""
    return np.where(np.isnan(values), FLOAT32_MAX, values)
