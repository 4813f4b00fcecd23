"""Scoring an exported model with numpy and onnxruntime alone: no PyTorch needed.

The reference scorer of ``aegan export`` (aegan/export/onnx_export.py). Reads
``NAME.onnx`` and its ``NAME.npz`` and goes the way ``Detector`` goes: a mono
16 kHz waveform -> dB log-mel (docs/method.md section 2) -> scaled segments ->
the graph's per-segment distances and critic embeddings -> the chosen score
pooled per clip (section 5) -> the decision against the stored threshold
(section 9). Nothing here imports torch: a device needs aegan's core
packages, numpy and onnxruntime, not PyTorch.

Both files carry the model's digest, and a scorer refuses a pair whose
digests differ (another model's thresholds would decide in silence).
Waveforms go through the Detector's input checks (``model.inputs``): integer
samples scaled, NaN, silence and samples far beyond ±1 refused, and a shape
other than (N,) or (channels, N) refused before anything is copied.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aegan.detector.waveforms import array_waveform, describe, recordings
from aegan.errors import AeganError, AudioError, ModelError, first_line, why_not_a_file
from aegan.model.reference import rescaled_sums
from aegan.score_names import (
    DISTANCES,
    FLOAT32_MAX,
    SCORE_NAMES,
    generator_score_parts,
    nan_to_max,
)

FORMAT_VERSION = 3  # 3: the model's digest in both files; 2: sums relative to the reference clip
DIGEST_KEY = "aegan_digest"
"""The ONNX graph's metadata entry holding the model's digest (the sidecar's meta has it too)."""
INPUT_NAME = "segments"
OUTPUT_NAMES = ("distances", "embedding")
AMIN = 1e-10  # librosa's floor before the log, as aegan/features/logmel.py
LRD_EPSILON = 1e-10  # scikit-learn's guard in the local reachability density
BATCH_SIZE = 256


def missing_extra_error(module: str) -> AeganError:
    return AeganError(
        f"ONNX export and scoring need the package {module!r}, which is not installed.",
        "Install the export extra: pip install 'aegan[export]'.",
    )


def log_mel(wave: np.ndarray, basis: np.ndarray, meta: dict) -> np.ndarray:
    """dB log-mel (n_mels, frames) of a mono waveform: Hann window, centred zero-padded frames."""
    n_fft, hop = meta["n_fft"], meta["hop_length"]
    padded = np.pad(np.asarray(wave, np.float32), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    db = 10.0 * np.log10(np.maximum(basis @ power.T, AMIN))
    return np.maximum(db, db.max() - meta["top_db"])


def cosine_distances(queries: np.ndarray, unit_reference: np.ndarray) -> np.ndarray:
    """(n, N) cosine distances, clipped to [0, 2] as scikit-learn's are."""
    unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.clip(1.0 - unit @ unit_reference.T, 0.0, 2.0)


def nearest(distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest distances of each row, ascending, and their column indices."""
    index = np.argpartition(distances, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(distances, index, axis=1)
    order = np.argsort(values, axis=1, kind="stable")
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(index, order, axis=1)


def lof_reference(
    unit_train: np.ndarray, k: int, rows: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Each training embedding's k-distance and local reachability density, itself left out.

    What scikit-learn's LocalOutlierFactor keeps from its fit; worked out in
    blocks of ``rows`` so that memory stays at rows x N distances.
    """
    n = len(unit_train)
    values = np.empty((n, k))
    index = np.empty((n, k), dtype=np.int64)
    for lo in range(0, n, rows):
        block = cosine_distances(unit_train[lo : lo + rows], unit_train)
        block[np.arange(len(block)), np.arange(lo, lo + len(block))] = np.inf
        values[lo : lo + rows], index[lo : lo + rows] = nearest(block, k)
    k_distance = values[:, -1]
    reach = np.maximum(values, k_distance[index])
    return k_distance, 1.0 / (reach.mean(axis=1) + LRD_EPSILON)


class OnnxScorer:
    """An exported model: the chosen score and decision of clips, with numpy and onnxruntime."""

    def __init__(self, onnx_path: str | Path, threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise missing_extra_error("onnxruntime") from None
        onnx_path = Path(onnx_path)
        sidecar = onnx_path.with_suffix(".npz")
        for path in (onnx_path, sidecar):
            if not path.is_file():
                raise ModelError(
                    f"The exported model file {path} {why_not_a_file(path)}.",
                    "Run `aegan export` first; it writes NAME.onnx and NAME.npz side by side.",
                )
        self.path = onnx_path
        self.meta, self.arrays = _read_sidecar(sidecar)
        self.session = _session(onnxruntime, onnx_path, threads)
        graph_digest = self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)
        if graph_digest != self.meta.get("digest"):
            raise ModelError(
                f"{onnx_path} and {sidecar} are not of one model: their digests differ "
                f"({str(graph_digest)[:12]} and {str(self.meta.get('digest'))[:12]}).",
                "Keep the .onnx and .npz of one export together, or export the model again.",
            )

    @property
    def score_name(self) -> str:
        return self.meta["score"]

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    def spectrogram(self, wave: np.ndarray) -> np.ndarray:
        """The dB log-mel of a waveform at the model's rate (``meta['sample_rate']``).

        Of a multi-channel recording, pass the channel ``meta['channel']`` names (or the
        mean of the channels where it is ``"mix"``), as the model was trained on.
        """
        return log_mel(wave, self.arrays["mel_basis"], self.meta)

    def segment_outputs(self, spectrogram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-segment distances (S, 5) and critic embeddings (S, E) of a raw dB log-mel."""
        frames, hop = self.meta["segment_frames"], self.meta["segment_hop"]
        if spectrogram.shape[1] < frames:
            seconds = frames * self.meta["hop_length"] / self.meta["sample_rate"]
            raise AudioError(
                f"A recording of {spectrogram.shape[1]} frames is too short for {self.path}: "
                f"one model input is {frames} frames.",
                f"Score recordings of at least {seconds:.2f} s.",
            )
        scaler = self.meta["scaler"]
        centre, half = (scaler["max"] + scaler["min"]) / 2, (scaler["max"] - scaler["min"]) / 2
        windows = np.lib.stride_tricks.sliding_window_view(spectrogram, frames, axis=1)[:, ::hop]
        segments = ((windows.transpose(1, 0, 2) - centre) / half).astype(np.float32)
        outputs = [
            self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: segments[lo : lo + BATCH_SIZE, None]})
            for lo in range(0, len(segments), BATCH_SIZE)
        ]
        return (
            np.concatenate([o[0] for o in outputs]).astype(np.float64),
            np.concatenate([o[1] for o in outputs]).astype(np.float64),
        )

    def score_spectrograms(
        self, spectrograms: Sequence[np.ndarray], score: str | None = None
    ) -> np.ndarray:
        """One score per clip (default: the model's chosen score); higher = more anomalous."""
        name = score or self.score_name
        return self.all_scores(spectrograms, (name,))[name]

    def all_scores(
        self, spectrograms: Sequence[np.ndarray], names: Sequence[str] = SCORE_NAMES
    ) -> dict[str, np.ndarray]:
        """Several scores of each clip from one pass of the graph over its segments."""
        per_clip = [self.segment_outputs(spectrogram) for spectrogram in spectrograms]
        counts = np.array([len(distances) for distances, _ in per_clip])
        scores = {}
        for name in names:
            if name.startswith("D_"):
                values = [self._d_score(name, emb.mean(axis=0)) for _, emb in per_clip]
                scores[name] = nan_to_max(np.asarray(values, dtype=np.float64))
                continue
            distance, pool = generator_score_parts(name)
            column = DISTANCES.index(distance)
            values = nan_to_max(np.array([getattr(np, pool)(d[:, column]) for d, _ in per_clip]))
            if pool == "sum":  # relative to the reference clip, as the threshold is
                values = rescaled_sums(values, counts, self.meta["reference_segments"])
            scores[name] = values
        return scores

    def score_waveforms(self, waves: Sequence[np.ndarray], score: str | None = None) -> np.ndarray:
        """One score per mono waveform at the model's sample rate, each checked as the
        Detector checks arrays; a waveform it cannot use raises naming it."""
        single, items = recordings(waves)
        checked = [
            array_waveform(w, describe(w, None if single else i)) for i, w in enumerate(items)
        ]
        return self.score_spectrograms([self.spectrogram(w) for w in checked], score)

    def decide(self, values: np.ndarray) -> np.ndarray:
        """Anomalous where the chosen score exceeds the stored threshold."""
        return np.asarray(values) > self.threshold

    def _d_score(self, name: str, embedding: np.ndarray) -> float:
        """One clip's D score from its mean embedding (aegan/model/embedding.py)."""
        if not np.isfinite(embedding).all():
            return FLOAT32_MAX
        mean = self.arrays["embedding_mean"]
        if name == "D_maha":
            centred = embedding - mean
            return float(np.sqrt(max(centred @ self.arrays["embedding_precision"] @ centred, 0.0)))
        if name == "D_cos":
            return float(
                1.0 - embedding @ mean / (np.linalg.norm(embedding) * np.linalg.norm(mean))
            )
        distances = cosine_distances(embedding[None], self.arrays["train_unit_embeddings"])
        if name == "D_knn":
            return float(nearest(distances, self.meta["knn_neighbours"])[0].sum())
        values, index = nearest(distances, self.meta["lof_neighbours"])
        reach = np.maximum(values[0], self.arrays["lof_k_distance"][index[0]])
        lrd = 1.0 / (reach.mean() + LRD_EPSILON)
        return float(np.mean(self.arrays["lof_lrd"][index[0]] / lrd))


SIDECAR_ARRAYS = ("mel_basis", "embedding_mean", "embedding_precision", "train_unit_embeddings",
                  "lof_k_distance", "lof_lrd")  # fmt: skip


def _read_sidecar(sidecar: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The sidecar's metadata and arrays, checked to be an export of this format."""
    try:
        with np.load(sidecar, allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"]))
            found = {name: arrays[name] for name in arrays.files if name != "meta"}
    except (OSError, ValueError, KeyError, EOFError) as exc:  # a damaged zip is an OSError
        raise ModelError(
            f"Cannot read {sidecar} as the numbers of an aegan export: {first_line(exc)}.",
            "The file is damaged or not an aegan export: export the model again.",
        ) from None
    missing = [name for name in SIDECAR_ARRAYS if name not in found]
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION or missing:
        written = meta.get("format") if isinstance(meta, dict) else None
        raise ModelError(
            f"{sidecar} is of export format {written}, not {FORMAT_VERSION}"
            + (f" (it lacks {', '.join(missing)})" if missing else "")
            + ".",
            "Export the model again with this version of aegan.",
        )
    return meta, found


def _session(onnxruntime: Any, onnx_path: Path, threads: int | None) -> Any:
    """An onnxruntime session of the graph; a ModelError naming the file if it will not load."""
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime's errors derive from Exception alone
        raise ModelError(
            f"Cannot load the ONNX graph {onnx_path}: {first_line(exc)}.",
            "The file is damaged or not an aegan export: export the model again.",
        ) from None
