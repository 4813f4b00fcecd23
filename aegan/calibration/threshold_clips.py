"""The training clips whose 19 scores set the decision thresholds (docs/method.md section 9).

A gamma fit of a score's training distribution needs a sample of it, not
every clip: calibration scores a deterministic, stratified subset of the
training clips with all four network passes, and the rest with the critic
alone (their embeddings feed the D scores, docs/method.md section 5).
Every stratum -- subset (dev/eval), section and domain -- keeps at least one
clip, and the rest of the quota is shared in proportion to the strata's sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aegan.dcase.clips import Clip
from aegan.errors import UsageError

DEFAULT_THRESHOLD_CLIPS = 24
"""Threshold clips by default, set by the time budget: 24 full-size 10-second clips
cost about as much as the critic pass over 75 clips. The price, measured on the
demo model's 72 training clips (6 strata): each G threshold moves by a median
0.39 standard deviations of its training scores against all clips, and 3% of
test decisions change (48 clips: 0.12 and 2%); a random full-size slider model
on 78 clips moved by a median 0.05 (benchmarks/calibration.py --compare). Sets
of at most 24 clips use all their clips; ``threshold_clips=None`` uses all on any set."""


def stratum(clip: Clip) -> tuple[str, str, str]:
    """What a threshold sample must cover: the clip's subset, section (or ID) and domain."""
    return (clip.subset, clip.group, clip.domain or "")


def check_threshold_clips(size: int | None) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise UsageError(
            f"The number of threshold clips must be a positive whole number; got {size!r}.",
            "Leave it out to use the default, or give e.g. 24; 'all' clips is None in Python.",
        )


def _quotas(sizes: np.ndarray, total: int) -> np.ndarray:
    """One clip per stratum, the rest in proportion to size (largest remainders first)."""
    quotas = np.ones(len(sizes), dtype=np.int64)
    spare = total - len(sizes)
    if spare > 0:
        share = spare * (sizes - 1) / max(int((sizes - 1).sum()), 1)
        quotas += np.floor(share).astype(np.int64)
        left = total - int(quotas.sum())
        order = np.lexsort((np.arange(len(sizes)), -(share - np.floor(share))))
        room = sizes - quotas
        for i in order:
            if left == 0:
                break
            if room[i] > 0:
                quotas[i] += 1
                room[i] -= 1
                left -= 1
    return np.minimum(quotas, sizes)


def threshold_subset(clips: Sequence[Clip], size: int | None) -> np.ndarray:
    """Sorted indices of the threshold clips: all of them when ``size`` is None or covers them.

    Deterministic: within a stratum the clips are taken evenly spaced in the
    given order. ``size`` smaller than the number of strata still gives one
    clip per stratum.
    """
    check_threshold_clips(size)
    if size is None or size >= len(clips):
        return np.arange(len(clips))
    members: dict[tuple[str, str, str], list[int]] = {}
    for i, clip in enumerate(clips):
        members.setdefault(stratum(clip), []).append(i)
    groups = [members[key] for key in sorted(members)]
    quotas = _quotas(np.array([len(g) for g in groups]), max(size, len(groups)))
    chosen = [
        group[int(position)]
        for group, quota in zip(groups, quotas, strict=True)
        for position in np.unique(np.round(np.linspace(0, len(group) - 1, int(quota))))
    ]
    return np.array(sorted(chosen), dtype=np.int64)
