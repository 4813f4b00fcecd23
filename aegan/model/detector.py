"""A ready-to-use anomaly detector and its one-file bundle.

A ``Detector`` is everything needed to score a recording: the generator and
discriminator, the feature scaling statistics of the training set, the
training clips' embeddings (the D scores are fitted on them) and scores (the
decision thresholds are fitted on them), the chosen score, the config and
where the model came from.

A bundle is a single safetensors file: the tensors, plus the rest as JSON in
the file's metadata. Loading never unpickles anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aegan import paths
from aegan.config.schema import Config, config_from_dict, to_dict
from aegan.errors import AeganError, ConfigError, DataError, ModelError
from aegan.features.audio import read_audio
from aegan.features.cache import FeatureSet, Scaler, combined_scaler, segment_view
from aegan.features.logmel import LogMel
from aegan.features.segments import require_one_segment
from aegan.model.nets import Discriminator, Generator
from aegan.model.scores import ClipScores, EmbeddingDetectors, score_clips
from aegan.progress import Progress, no_progress
from aegan.score_names import SCORE_NAMES, score_index

BUNDLE_FORMAT = "aegan-bundle"
BUNDLE_VERSION = 1
BUNDLE_SUFFIX = ".safetensors"


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


@dataclass
class FileScore:
    """One file's result; ``error`` is set (and the numbers are None) when it could not be read."""

    path: Path
    score: float | None = None
    anomalous: bool | None = None
    error: str | None = None


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

    def threshold(self, score: str | None = None) -> float:
        """Decision threshold of a score, fitted to the training clips' scores of that score."""
        name = score or self.score_name
        if name not in self._thresholds:
            column = self.train_scores[:, score_index(name)]
            self._thresholds[name] = gamma_threshold(column, self.cfg.detect.threshold_quantile)
        return self._thresholds[name]

    # ------------------------------------------------------------ scoring

    def segments(self, spectrogram: np.ndarray) -> np.ndarray:
        """A raw dB spectrogram's model inputs, as a view."""
        feat = self.cfg.feat
        return segment_view(spectrogram, feat.segment_frames, feat.segment_hop)

    def score_spectrograms(
        self,
        spectrograms: Sequence[np.ndarray],
        *,
        batch_size: int = 256,
        progress: Progress = no_progress,
    ) -> ClipScores:
        """All 19 scores of clips given as raw dB log-mel spectrograms (n_mels, frames)."""
        return score_clips(
            self.generator,
            self.discriminator,
            [self.segments(spec) for spec in spectrograms],
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
        waves = [self._waveform(item, sample_rate) for item in items]
        spectrograms = self.log_mel(waves)
        for item, spec in zip(items, spectrograms, strict=True):
            require_one_segment(
                spec.shape[1],
                self.cfg.feat,
                str(item) if isinstance(item, (str, Path)) else "A waveform",
            )
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
        files_per_batch: int = 32,
        progress: Progress = no_progress,
    ) -> list[FileScore]:
        """Score many files in batches; a file that cannot be read is reported, not fatal."""
        name = score or self.score_name
        threshold = self.threshold(name)
        results = [FileScore(Path(f)) for f in files]
        for start in range(0, len(files), files_per_batch):
            chunk = results[start : start + files_per_batch]
            readable, spectrograms = [], []
            for result in chunk:
                try:
                    spec = self.log_mel([read_audio(result.path, self.cfg.feat.sample_rate)])[0]
                    require_one_segment(spec.shape[1], self.cfg.feat, str(result.path))
                except AeganError as exc:
                    result.error = exc.message
                    continue
                readable.append(result)
                spectrograms.append(spec)
            if spectrograms:
                values = self.score_spectrograms(spectrograms, batch_size=batch_size).column(name)
                for result, value in zip(readable, values, strict=True):
                    result.score = float(value)
                    result.anomalous = bool(value > threshold)
            progress("Scoring files", min(start + files_per_batch, len(files)), len(files))
        return results

    # ------------------------------------------------------------ building

    @classmethod
    def calibrate(
        cls,
        cfg: Config,
        generator: Generator,
        discriminator: Discriminator,
        train_sets: Sequence[FeatureSet],
        *,
        provenance: dict[str, Any] | None = None,
        name: str | None = None,
        batch_size: int = 256,
        progress: Progress = no_progress,
    ) -> Detector:
        """A detector from trained networks and the training features.

        One scoring pass over the training clips gives their embeddings (for
        the D scores) and all 19 of their scores (for the thresholds); D
        scores of training clips leave each clip out of its own neighbours.
        """
        scaler = combined_scaler(train_sets)
        segments = [
            seg
            for fs in train_sets
            for seg in fs.all_segments(cfg.feat.segment_frames, cfg.feat.segment_hop)
        ]
        result = score_clips(
            generator, discriminator, segments, None,
            batch_size=batch_size, transform=scaler, progress=progress,
        )  # fmt: skip
        detectors = EmbeddingDetectors(result.embeddings)
        train_scores = result.values.copy()
        for score, column in detectors.training_scores().items():
            train_scores[:, score_index(score)] = column
        return cls(
            cfg, generator, discriminator, scaler, detectors, train_scores,
            mean_training_spectrogram(train_sets, scaler), provenance, name,
        )  # fmt: skip

    # ------------------------------------------------------------ bundle files

    def save(self, path: Path) -> Path:
        """Write the bundle atomically; returns its path."""
        tensors = {
            f"netG.{k}": v.detach().cpu().contiguous()
            for k, v in self.generator.state_dict().items()
        }
        tensors.update(
            {
                f"netD.{k}": v.detach().cpu().contiguous()
                for k, v in self.discriminator.state_dict().items()
            }
        )
        tensors["train_embeddings"] = torch.from_numpy(np.ascontiguousarray(self.train_embeddings))
        tensors["train_scores"] = torch.from_numpy(np.ascontiguousarray(self.train_scores))
        tensors["mean_spectrogram"] = torch.from_numpy(np.ascontiguousarray(self.mean_spectrogram))
        metadata = {
            "format": BUNDLE_FORMAT,
            "version": str(BUNDLE_VERSION),
            "config": json.dumps(to_dict(self.cfg)),
            "scaler": json.dumps({"max": self.scaler.max, "min": self.scaler.min}),
            "provenance": json.dumps(self.provenance),
            "score_names": json.dumps(list(SCORE_NAMES)),
        }
        with paths.atomic_path(Path(path), suffix=BUNDLE_SUFFIX) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
        return Path(path)

    @classmethod
    def load_file(cls, path: Path, name: str | None = None) -> Detector:
        """Read a bundle; any corruption or mismatch is a ModelError naming the file."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"Model bundle {path} does not exist.")
        try:
            with safe_open(str(path), framework="pt") as fh:  # one read: tensors and metadata
                metadata = fh.metadata() or {}
                # a safe_open handle is not iterable: keys() is its API, not a dict's
                tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as exc:
            raise _corrupt(path, str(exc)) from None
        if metadata.get("format") != BUNDLE_FORMAT:
            raise _corrupt(path, "it is a safetensors file but not an aegan model bundle")
        if int(metadata.get("version", "0")) > BUNDLE_VERSION:
            raise ModelError(
                f"{path} was written by a newer aegan (bundle version {metadata['version']}).",
                "Upgrade aegan: pip install -U aegan.",
            )
        try:
            cfg = config_from_dict(json.loads(metadata["config"]))
            scaling = json.loads(metadata["scaler"])
            provenance = json.loads(metadata.get("provenance", "{}"))
            generator = _load_net(Generator(cfg.net), tensors, "netG.", path)
            discriminator = _load_net(Discriminator(cfg.net), tensors, "netD.", path)
            arrays = {
                k: tensors[k].numpy()
                for k in ("train_embeddings", "train_scores", "mean_spectrogram")
            }
        except (KeyError, ValueError, ConfigError) as exc:
            raise _corrupt(path, f"missing or invalid entry {exc}") from None
        if arrays["train_scores"].shape != (len(arrays["train_embeddings"]), len(SCORE_NAMES)):
            raise _corrupt(path, "its training scores do not match its training embeddings")
        return cls(
            cfg, generator, discriminator, Scaler(float(scaling["max"]), float(scaling["min"])),
            EmbeddingDetectors(arrays["train_embeddings"]), arrays["train_scores"],
            arrays["mean_spectrogram"],
            provenance, name or path.name.removesuffix(BUNDLE_SUFFIX),
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


def _corrupt(path: Path, reason: str) -> ModelError:
    return ModelError(
        f"Cannot load the model bundle {path}: {reason}.",
        "The file is damaged or not a model bundle: fetch, train or import the model again.",
    )


def _load_net(
    net: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str, path: Path
) -> torch.nn.Module:
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise _corrupt(
            path, f"its {prefix.rstrip('.')} weights do not fit its config ({_first_line(exc)})"
        ) from None
    return net.eval()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def mean_training_spectrogram(train_sets: Sequence[FeatureSet], scaler: Scaler) -> np.ndarray:
    """Mean scaled training spectrogram mapped to [0, 1] (the localisation reference).

    As the original, over the dev sections' training clips when there are any;
    clips of different lengths are cropped to the shortest.
    """
    dev = [fs for fs in train_sets if fs.clips and fs.clips[0].subset == "dev"] or list(train_sets)
    frames = min(int(fs.frames.min()) for fs in dev)
    total = np.zeros((dev[0].data.shape[0], frames), dtype=np.float64)
    count = 0
    for fs in dev:
        for i in range(len(fs)):
            total += fs.spectrogram(i)[:, :frames]
            count += 1
    return ((scaler(total / count) + 1.0) / 2.0).astype(np.float32)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def base_provenance(source: str, **details: Any) -> dict[str, Any]:
    return {"source": source, "created": now_iso(), "aegan_version": version("aegan"), **details}
