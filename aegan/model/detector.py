"""A ready-to-use anomaly detector: the one path from a recording to its decision.

A ``Detector`` is everything needed to score a recording: the generator and
discriminator, the feature scaling statistics of the training set, the
training clips' embeddings (the D scores are fitted on them) and scores (the
decision thresholds are fitted on them), the chosen score, the config and
where the model came from. It is stored as one bundle file (``bundle.py``).

A clip goes: read (``features.audio``) -> log-mel (``features.logmel``) ->
segments (``features.segments``) -> 19 scores (``model.scores``) -> decision
(``decide``, here). The command line and the Python API only render results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aegan.config.schema import Config
from aegan.errors import AeganError, DataError, ModelError
from aegan.features.audio import read_audio
from aegan.features.logmel import LogMel
from aegan.features.segments import Scaler, require_one_segment, segment_view
from aegan.model.bundle import Bundle, bundle_name, read_bundle, write_bundle
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.nets import Discriminator, Generator
from aegan.model.scores import ClipScores, score_clips
from aegan.model.threshold import gamma_threshold
from aegan.progress import Progress, no_progress
from aegan.score_names import score_index

FILES_PER_BATCH = 32
"""Files read and scored together by ``score_files``: enough to fill batches, little memory."""


@dataclass
class FileScore:
    """One file's result; ``error`` is set (and the numbers are None) when it could not be used."""

    path: Path
    score: float | None = None
    anomalous: bool | None = None
    error: str | None = None

    @property
    def decision(self) -> str | None:
        """ "anomaly", "normal", or None for a file that could not be scored."""
        if self.anomalous is None:
            return None
        return "anomaly" if self.anomalous else "normal"


class Detector:
    """Networks, scaling and calibration of one machine type: scores recordings."""

    def __init__(
        self,
        cfg: Config,
        generator: Generator,
        discriminator: Discriminator,
        scaler: Scaler,
        embedding_detectors: EmbeddingDetectors,
        train_scores: np.ndarray,
        mean_spectrogram: np.ndarray,
        provenance: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.generator = generator.eval()
        self.discriminator = discriminator.eval()
        self.scaler = scaler
        self.embedding_detectors = embedding_detectors  # fitted on the training embeddings
        self.train_scores = np.asarray(train_scores, dtype=np.float64)  # (N, 19)
        self.mean_spectrogram = np.asarray(mean_spectrogram, dtype=np.float32)
        self.provenance = dict(provenance or {})
        self.name = name
        self._thresholds: dict[str, float] = {}
        self._logmel: LogMel | None = None

    # ------------------------------------------------------------ properties

    @property
    def score_name(self) -> str:
        return self.cfg.detect.score

    @property
    def train_embeddings(self) -> np.ndarray:
        return self.embedding_detectors.train_embeddings

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def to(self, device: str | torch.device) -> Detector:
        self.generator.to(device)
        self.discriminator.to(device)
        return self

    # ------------------------------------------------------------ decisions

    def threshold(self, score: str | None = None) -> float:
        """Decision threshold of a score, fitted to the training clips' scores of that score."""
        name = score or self.score_name
        if name not in self._thresholds:
            column = self.train_scores[:, score_index(name)]
            self._thresholds[name] = gamma_threshold(column, self.cfg.detect.threshold_quantile)
        return self._thresholds[name]

    def decide(self, values: np.ndarray, score: str | None = None) -> np.ndarray:
        """Anomalous (True) where a value of ``score`` exceeds its threshold: the one decision rule."""
        return np.asarray(values) > self.threshold(score)

    # ------------------------------------------------------------ scoring

    def score_spectrograms(
        self,
        spectrograms: Sequence[np.ndarray],
        *,
        batch_size: int = 256,
        progress: Progress = no_progress,
    ) -> ClipScores:
        """All 19 scores of clips given as raw dB log-mel spectrograms (n_mels, frames)."""
        feat = self.cfg.feat
        return score_clips(
            self.generator,
            self.discriminator,
            [segment_view(spec, feat.segment_frames, feat.segment_hop) for spec in spectrograms],
            self.embedding_detectors,
            batch_size=batch_size,
            transform=self.scaler,
            progress=progress,
        )

    def log_mel(self, waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw dB log-mel spectrograms of mono waveforms at the model's sample rate."""
        if self._logmel is None:
            self._logmel = LogMel(self.cfg.feat)
        with torch.inference_mode():
            return [
                self._logmel(torch.from_numpy(np.asarray(w, np.float32))[None])[0].numpy()
                for w in waveforms
            ]

    def spectrogram(self, item: str | Path | np.ndarray, sample_rate: int | None = None):
        """The raw dB log-mel of a file or waveform, checked to give at least one segment."""
        spec = self.log_mel([self._waveform(item, sample_rate)])[0]
        what = str(item) if isinstance(item, (str, Path)) else "A waveform"
        require_one_segment(spec.shape[1], self.cfg.feat, what)
        return spec

    def score(
        self,
        inputs: str | Path | np.ndarray | Sequence[str | Path | np.ndarray],
        *,
        score: str | None = None,
        sample_rate: int | None = None,
    ) -> float | np.ndarray:
        """Anomaly score of a file or waveform (a float), or of several (an array).

        Files are read as the features layer reads them (any rate, mixed to
        mono); arrays are mono waveforms at ``sample_rate`` (default: the
        model's). Higher means more anomalous; compare with ``threshold()``.
        """
        single = isinstance(inputs, (str, Path)) or (
            isinstance(inputs, np.ndarray) and inputs.ndim == 1
        )
        items = [inputs] if single else list(inputs)
        spectrograms = [self.spectrogram(item, sample_rate) for item in items]
        values = self.score_spectrograms(spectrograms).column(score or self.score_name)
        return float(values[0]) if single else values

    def _waveform(self, item: str | Path | np.ndarray, sample_rate: int | None) -> np.ndarray:
        rate = self.cfg.feat.sample_rate
        if isinstance(item, (str, Path)):
            return read_audio(item, rate)
        wave = np.asarray(item, dtype=np.float32)
        if wave.ndim != 1:
            raise DataError(f"A waveform must be one-dimensional (mono); got shape {wave.shape}.")
        if sample_rate is not None and sample_rate != rate:
            import torchaudio.functional as AF

            wave = AF.resample(torch.from_numpy(wave), sample_rate, rate).numpy()
        return wave

    def score_files(
        self,
        files: Sequence[Path],
        *,
        score: str | None = None,
        batch_size: int = 256,
        progress: Progress = no_progress,
    ) -> list[FileScore]:
        """Score many files in batches, with decisions; a file that cannot be used is reported."""
        name = score or self.score_name
        results = [FileScore(Path(f)) for f in files]
        for start in range(0, len(files), FILES_PER_BATCH):
            readable, spectrograms = [], []
            for result in results[start : start + FILES_PER_BATCH]:
                try:
                    spectrograms.append(self.spectrogram(result.path))
                except AeganError as exc:
                    result.error = exc.message
                    continue
                readable.append(result)
            if spectrograms:
                values = self.score_spectrograms(spectrograms, batch_size=batch_size).column(name)
                for result, value, anomalous in zip(
                    readable, values, self.decide(values, name), strict=True
                ):
                    result.score = float(value)
                    result.anomalous = bool(anomalous)
            progress("Scoring files", min(start + FILES_PER_BATCH, len(files)), len(files))
        return results

    # ------------------------------------------------------------ bundle files

    def save(self, path: Path) -> Path:
        """Write the bundle atomically; returns its path."""
        return write_bundle(
            path,
            Bundle(
                self.cfg, self.generator, self.discriminator, self.scaler, self.train_embeddings,
                self.train_scores, self.mean_spectrogram, self.provenance,
            ),
        )  # fmt: skip

    @classmethod
    def load_file(cls, path: Path, name: str | None = None) -> Detector:
        """Read a bundle; any corruption or mismatch is a ModelError naming the file."""
        b = read_bundle(Path(path))
        return cls(
            b.cfg, b.generator, b.discriminator, b.scaler,
            EmbeddingDetectors(b.train_embeddings), b.train_scores, b.mean_spectrogram,
            b.provenance, name or bundle_name(Path(path)),
        )  # fmt: skip

    @classmethod
    def load(cls, model: str | Path) -> Detector:
        """A bundle by registry name (``fan22``, a local name) or by path."""
        from aegan.model.registry import resolve_bundle

        path, name = resolve_bundle(model)
        return cls.load_file(path, name)

    def check_matches(self, year: int, machine: str) -> None:
        """Refuse to test a model on another machine type or year."""
        if (self.cfg.year, self.cfg.machine) != (year, machine):
            raise ModelError(
                f"Model {self.name!r} is for {self.cfg.machine} (DCASE {self.cfg.year}), "
                f"not {machine} (DCASE {year}).",
                "Pick a model of this machine type and year (see `aegan models`).",
            )
