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
from pathlib import Path

import numpy as np
import torch

from aegan.bundles.format import (
    Bundle,
    bundle_tensors,
    model_digest,
    read_bundle,
    read_bundle_config,
    write_bundle,
)
from aegan.bundles.header import bundle_name
from aegan.bundles.provenance import Provenance
from aegan.config.schema import Config
from aegan.detector import batch_scoring, timeline
from aegan.detector.batch_scoring import FileScore
from aegan.detector.timeline import TIMELINE_BATCH_SIZE, Timeline
from aegan.detector.waveforms import (
    Item,
    check_sample_rate,
    describe,
    recordings,
    waveform,
)
from aegan.errors import AeganError, DataError, ModelError
from aegan.features.logmel import MelTransform, one_blas_thread
from aegan.features.segments import Scaler, require_one_segment, segment_view
from aegan.model.embedding import EmbeddingDetectors
from aegan.model.footprint import require_scoring_memory
from aegan.model.nets import Discriminator, Generator
from aegan.model.precision import Precision, check_precision, parse_precision
from aegan.model.reference import (
    clip_seconds,
    relative_to_reference,
    require_reference,
    segment_count,
    segment_counts,
)
from aegan.model.scores import ClipScores, score_clips
from aegan.model.threshold import gamma_threshold
from aegan.progress import Progress, no_progress
from aegan.score_names import score_index

LISTED_PROBLEMS = 10
"""An error about a list of recordings names this many of the unusable ones, then counts."""


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
        provenance: Provenance | None = None,
        name: str | None = None,
        *,
        reference_segments: int | None = None,
        precision: Precision = "fp32",
    ) -> None:
        self.cfg = cfg
        self.generator = generator.eval()
        self.discriminator = discriminator.eval()
        self.scaler = scaler
        self.embedding_detectors = embedding_detectors  # fitted on the training embeddings
        self.train_scores = np.asarray(train_scores, dtype=np.float64)  # (N, 19)
        self.mean_spectrogram = np.asarray(mean_spectrogram, dtype=np.float32)
        self.provenance = provenance or Provenance()
        self.name = name
        # The reference clip of sum-pooled scores (docs/method.md section 13): without one
        # given, the training clips' own length, which the mean spectrogram's width records.
        fallback = max(1, segment_count(self.mean_spectrogram.shape[1], cfg.feat))
        self.reference_segments = require_reference(
            fallback if reference_segments is None else reference_segments, "reference_segments"
        )
        self.precision: Precision = parse_precision(precision)
        self._thresholds: dict[str, float] = {}
        self._transform: MelTransform | None = None

    # ------------------------------------------------------------ properties

    @property
    def score_name(self) -> str:
        return self.cfg.detect.score

    @property
    def train_embeddings(self) -> np.ndarray:
        return self.embedding_detectors.train_embeddings

    @property
    def clip_seconds(self) -> float:
        """Duration of the reference clip: the window length of a timeline."""
        return clip_seconds(self.reference_segments, self.cfg.feat)

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
        """All 19 scores of clips given as raw dB log-mel spectrograms (n_mels, frames).

        Every scoring path of the detector ends here, so this is the one place
        where sum-pooled scores are expressed relative to the reference clip
        (docs/method.md section 13); clips of the reference length keep their
        values bit for bit.
        """
        feat = self.cfg.feat
        require_scoring_memory(self.cfg, batch_size, self.device)
        result = score_clips(
            self.generator,
            self.discriminator,
            [segment_view(spec, feat.segment_frames, feat.segment_hop) for spec in spectrograms],
            self.embedding_detectors,
            batch_size=batch_size,
            transform=self.scaler,
            progress=progress,
            precision=self.precision,
        )
        counts = segment_counts(spectrograms, feat)
        values = relative_to_reference(result.values, counts, self.reference_segments)
        return ClipScores(values=values, embeddings=result.embeddings)

    def log_mel(self, waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw dB log-mel spectrograms of mono waveforms at the model's sample rate."""
        if self._transform is None:
            self._transform = MelTransform(self.cfg.feat)
        with one_blas_thread():
            return [self._transform(np.asarray(w, np.float32)) for w in waveforms]

    def checked_spectrogram(self, wave: np.ndarray, what: str) -> np.ndarray:
        """The raw dB log-mel of a mono waveform, checked to give at least one segment."""
        spec = self.log_mel([wave])[0]
        require_one_segment(spec.shape[1], self.cfg.feat, what)
        return spec

    def spectrogram(
        self, item: Item, sample_rate: int | None = None, what: str | None = None
    ) -> np.ndarray:
        """The raw dB log-mel of a file or waveform, checked to give at least one segment."""
        what = what or describe(item)
        feat = self.cfg.feat
        wave = waveform(item, sample_rate, feat.sample_rate, what, feat.channel)
        return self.checked_spectrogram(wave, what)

    def score(
        self,
        inputs: Item | Sequence[Item],
        *,
        score: str | None = None,
        sample_rate: int | None = None,
    ) -> float | np.ndarray:
        """Anomaly score of one recording (a float), or of a list of them (an array).

        A recording is a file path (read at its own rate; the channel
        ``feat.channel``) or an array (or torch tensor) of samples at
        ``sample_rate`` (default: the model's): float, or integer scaled to
        [-1, 1]; mono (N,) or one multi-channel recording (channels, N). Bytes,
        open files and lists of numbers are refused with an ``InputTypeError``.
        Higher means more anomalous; compare with
        ``threshold()``. A list is all or nothing: if any item cannot be used,
        one DataError names every such item and why, before any scoring;
        ``score_items`` scores the usable items and reports the others.
        """
        rate = check_sample_rate(sample_rate)
        single, items = recordings(inputs)
        spectrograms, problems = [], []
        for index, item in enumerate(items):
            try:
                what = describe(item, None if single else index)
                spectrograms.append(self.spectrogram(item, rate, what))
            except AeganError as exc:
                if single:
                    raise
                problems.append(exc.message)
        if problems:
            shown = problems[:LISTED_PROBLEMS]
            more = len(problems) - len(shown)
            raise DataError(
                f"{len(problems)} of {len(items)} recordings cannot be scored:\n"
                + "\n".join(f"- {p}" for p in shown)
                + (f"\n- and {more} more" if more else ""),
                "Fix or drop them, or use score_items() to score the rest.",
            )
        values = self.score_spectrograms(spectrograms).column(score or self.score_name)
        return float(values[0]) if single else values

    def score_items(
        self,
        items: Sequence[Item],
        *,
        score: str | None = None,
        sample_rate: int | None = None,
        batch_size: int = 256,
        progress: Progress = no_progress,
    ) -> list[FileScore]:
        """Score many recordings in shared batches, each with its decision or its ``error``.

        Unlike ``score``, an unusable item does not stop the others
        (detector/batch_scoring.py).
        """
        return batch_scoring.score_items(
            self, items, score=score, sample_rate=sample_rate, batch_size=batch_size,
            progress=progress,
        )  # fmt: skip

    score_files = score_items  # the name the CLI and older callers use for paths

    def timeline(
        self,
        path: Path | str,
        *,
        hop: float | None = None,
        start: float | None = None,
        end: float | None = None,
        score: str | None = None,
        batch_size: int = TIMELINE_BATCH_SIZE,
        progress: Progress = no_progress,
    ) -> Timeline:
        """Score a long recording window by window, ``hop`` seconds apart (detector/timeline.py).

        Windows last the reference clip; ``start``/``end`` limit it to a stretch.
        """
        return timeline.score_timeline(
            self, path, hop=hop, start=start, end=end, score=score, batch_size=batch_size,
            progress=progress,
        )  # fmt: skip

    # ------------------------------------------------------------ bundle files

    def as_bundle(self) -> Bundle:
        """What the bundle file of this detector holds."""
        return Bundle(
            self.cfg, self.generator, self.discriminator, self.scaler, self.train_embeddings,
            self.train_scores, self.mean_spectrogram, self.provenance, self.reference_segments,
        )  # fmt: skip

    @property
    def digest(self) -> str:
        """SHA-256 of the model's tensors: what its bundle and its ONNX export carry."""
        return model_digest(bundle_tensors(self.as_bundle()))

    def save(self, path: Path) -> Path:
        """Write the bundle atomically; returns its path."""
        return write_bundle(path, self.as_bundle())

    @classmethod
    def load_file(cls, path: Path, name: str | None = None) -> Detector:
        """Read a bundle; any corruption or mismatch is a ModelError naming the file."""
        b = read_bundle(Path(path))
        return cls(
            b.cfg, b.generator, b.discriminator, b.scaler,
            EmbeddingDetectors(b.train_embeddings), b.train_scores, b.mean_spectrogram,
            b.provenance, name or bundle_name(Path(path)),
            reference_segments=b.reference_segments,
        )  # fmt: skip

    @classmethod
    def load(
        cls,
        model: str | Path,
        *,
        device: str | torch.device | None = None,
        precision: str = "fp32",
    ) -> Detector:
        """A bundle by registry name (``fan22``, a local name) or by path, ready to score.

        It goes to ``device`` (``"cpu"``, ``0``, ``"cuda:1"``, ``"auto"``), by
        default the user's ``device`` setting; ``precision`` (fp32 or bf16) is
        checked against that device before any weights are read.
        """
        from aegan.bundles.registry import resolve_bundle
        from aegan.model.devices import resolve_device

        target = resolve_device(device)
        chosen = check_precision(precision, target)
        path, name = resolve_bundle(model)
        detector = cls.load_file(path, name).to(target)
        detector.precision = chosen
        return detector

    @staticmethod
    def load_config(model: str | Path) -> Config:
        """A model's config (registry name or path) from its bundle header, no weights read."""
        from aegan.bundles.registry import resolve_bundle

        return read_bundle_config(resolve_bundle(model)[0])

    def check_matches(self, year: int, machine: str) -> None:
        """Refuse to test a model on another machine type or year."""
        if (self.cfg.year, self.cfg.machine) != (year, machine):
            raise ModelError(
                f"Model {self.name!r} is for {self.cfg.machine} (DCASE {self.cfg.year}), "
                f"not {machine} (DCASE {year}).",
                "Pick a model of this machine type and year (see `aegan models`).",
            )
