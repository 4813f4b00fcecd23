"""The four discriminator scores: detectors fitted on training clip embeddings (docs/method.md section 5).

A clip's embedding is the mean of the critic's segment embeddings. D_maha,
D_knn, D_lof and D_cos compare it with the training clips' embeddings (all
sections and domains pooled), which are all a fitted detector needs: it is
rebuilt from them, never pickled.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from aegan.errors import DataError, ModelError
from aegan.score_names import D_SCORE_NAMES, FLOAT32_MAX, nan_to_max

KNN_NEIGHBOURS = 2


LOF_NEIGHBOURS = 4


LOF_CONTAMINATION = 1e-6
"""As in the original; it only sets LOF's unused decision offset, not the scores."""


MIN_TRAINING_CLIPS = LOF_NEIGHBOURS + 1


class EmbeddingDetectors:
    """The four D scores, fitted on training clip embeddings (all sections pooled).

    Rebuilt from the stored embeddings rather than pickled. Mahalanobis uses
    the pseudo-inverse of the sample covariance: the inverse when the
    covariance has full rank, and still a distance (within the span of the
    training embeddings) when it is singular, e.g. with fewer clips than
    dimensions, where the original fails. A non-finite embedding gets
    float32 max in every D score.
    """

    def __init__(self, train_embeddings: np.ndarray) -> None:
        embeddings = np.asarray(train_embeddings, dtype=np.float32)
        self._check_training(embeddings)
        self._train = embeddings
        as_float64 = embeddings.astype(np.float64)
        self._mean = as_float64.mean(axis=0)
        self._precision = np.linalg.pinv(np.cov(as_float64, rowvar=False), hermitian=True)
        self._knn = NearestNeighbors(n_neighbors=KNN_NEIGHBOURS, metric="cosine").fit(embeddings)
        self._lof = LocalOutlierFactor(
            n_neighbors=LOF_NEIGHBOURS,
            contamination=LOF_CONTAMINATION,
            metric="cosine",
            novelty=True,
        ).fit(embeddings)

    @staticmethod
    def _check_training(embeddings: np.ndarray) -> None:
        if embeddings.ndim != 2 or len(embeddings) < MIN_TRAINING_CLIPS:
            raise DataError(
                f"The embedding detectors need at least {MIN_TRAINING_CLIPS} training clips "
                f"(an array of shape (clips, dims)); got shape {embeddings.shape}.",
                "Train or calibrate with more normal clips.",
            )
        if not np.isfinite(embeddings).all():
            raise ModelError(
                "The training clips' embeddings are not all finite: the model has diverged.",
                "Retrain the model, e.g. with a lower learning rate.",
            )

    @property
    def train_embeddings(self) -> np.ndarray:
        """(N, E) float32: all a detector needs to be rebuilt."""
        return self._train

    @property
    def gaussian(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean and pseudo-inverse covariance behind D_maha (float64), for export."""
        return self._mean, self._precision

    def _maha(self, embeddings: np.ndarray) -> np.ndarray:
        centred = embeddings.astype(np.float64) - self._mean
        squared = np.einsum("ij,jk,ik->i", centred, self._precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def _cos(self, embeddings: np.ndarray) -> np.ndarray:
        similarity = F.cosine_similarity(
            torch.from_numpy(embeddings.astype(np.float64)),
            torch.from_numpy(self._mean)[None, :],
            dim=1,
        )
        return 1.0 - similarity.numpy()

    def score(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        """The D scores of clip embeddings (n, E), keyed by score name; higher = more anomalous."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self._train.shape[1]:
            raise ModelError(
                f"Embeddings of shape {embeddings.shape} do not fit detectors fitted on "
                f"{self._train.shape[1]}-dimensional embeddings.",
                "Score with the discriminator whose training embeddings built the detectors.",
            )
        finite = np.isfinite(embeddings).all(axis=1)
        scores = {name: np.full(len(embeddings), FLOAT32_MAX) for name in D_SCORE_NAMES}
        if finite.any():
            for name, column in self._score_finite(embeddings[finite]).items():
                scores[name][finite] = nan_to_max(column)
        return scores

    def _score_finite(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "D_maha": self._maha(embeddings),
            "D_knn": self._knn.kneighbors(embeddings)[0].sum(axis=1).astype(np.float64),
            "D_lof": -self._lof.score_samples(embeddings).astype(np.float64),
            "D_cos": self._cos(embeddings),
        }

    def training_scores(self) -> dict[str, np.ndarray]:
        """The training clips' own D scores as if each were unseen (for thresholds).

        kNN leaves each clip out of its own neighbours and LOF uses each clip's
        outlier factor from the fit; Mahalanobis and cosine need no leaving out.
        """
        scores = {
            "D_maha": self._maha(self._train),
            "D_knn": self._knn.kneighbors()[0].sum(axis=1).astype(np.float64),
            "D_lof": -self._lof.negative_outlier_factor_.astype(np.float64),
            "D_cos": self._cos(self._train),
        }
        return {name: nan_to_max(column) for name, column in scores.items()}
