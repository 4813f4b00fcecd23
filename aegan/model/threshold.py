"""Decision thresholds (docs/method.md section 9), as the DCASE baselines set them."""

from __future__ import annotations

import math

import numpy as np
import scipy.stats


def gamma_threshold(train_scores: np.ndarray, quantile: float) -> float:
    """The DCASE baselines' decision threshold: a quantile of a gamma fitted to training scores.

    Scores that are not finite (a NaN became float32 max) are left out of the
    fit; a degenerate sample (all equal) falls back to its empirical quantile.
    """
    values = np.asarray(train_scores, dtype=np.float64)
    values = values[np.isfinite(values) & (values < np.finfo(np.float32).max)]
    if values.size < 2 or np.ptp(values) == 0:
        return float(np.quantile(values, quantile)) if values.size else math.inf
    with np.errstate(all="ignore"):
        shape, loc, scale = scipy.stats.gamma.fit(values)
        threshold = float(scipy.stats.gamma.ppf(quantile, shape, loc=loc, scale=scale))
    return threshold if math.isfinite(threshold) else float(np.quantile(values, quantile))
