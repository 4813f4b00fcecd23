"""A bundle as an ONNX graph plus the numbers around it, for runtimes without PyTorch.

``export_onnx`` writes two files. ``NAME.onnx`` is the per-segment network
part of scoring (docs/method.md section 5): for a batch of scaled segments
(B, 1, n_mels, frames), any B, the encoder, decoder, encoder again and the
critic give the five per-segment distances (``DISTANCES`` order) and the
critic embeddings. ``NAME.npz`` holds everything else a clip's score and
decision need: the log-mel settings and mel filters (section 2), the scaling,
the chosen score and its threshold (section 9), and the embedding detectors'
fitted numbers (section 5.2). ``aegan.export.onnx_scorer`` reads both with
numpy and onnxruntime alone.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aegan.detector.detector import Detector
from aegan.errors import UsageError
from aegan.export.onnx_scorer import (
    DIGEST_KEY,
    FORMAT_VERSION,
    INPUT_NAME,
    OUTPUT_NAMES,
    lof_reference,
    missing_extra_error,
)
from aegan.features.logmel import mel_filterbank
from aegan.model.embedding import KNN_NEIGHBOURS, LOF_NEIGHBOURS
from aegan.model.nets import Discriminator, Generator
from aegan.model.scores import eval_mode, segment_distances
from aegan.paths import atomic_path
from aegan.score_names import DISTANCES

OPSET = 18
"""ONNX opset of the exported graph: recent enough for torch's exporter, old enough for most runtimes."""


class SegmentNetwork(nn.Module):
    """The networks' share of ``segment_outputs`` (aegan/model/scores.py) as one traceable module."""

    def __init__(self, generator: Generator, discriminator: Discriminator) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.generator.encode(x)
        r = self.generator.decode(z)
        z_r = self.generator.encode(r)
        _, embedding = self.discriminator(x)
        distances = segment_distances(x, z, r, z_r)
        return torch.stack([distances[name] for name in DISTANCES], dim=1), embedding


@dataclass(frozen=True)
class ExportedFiles:
    onnx: Path
    sidecar: Path
    score: str
    threshold: float


def sidecar_path(onnx_path: Path) -> Path:
    """The numbers beside ``model.onnx``: ``model.npz``."""
    return Path(onnx_path).with_suffix(".npz")


def export_onnx(detector: Detector, out: Path, *, overwrite: bool = False) -> ExportedFiles:
    """Write ``out`` (the graph) and its sidecar ``.npz``; each appears whole or not at all."""
    _require_export_extra()
    out = Path(out)
    if out.suffix != ".onnx":
        raise UsageError(f"The export file must end in .onnx; got {out.name!r}.")
    sidecar = sidecar_path(out)
    existing = [p for p in (out, sidecar) if p.exists()]
    if existing and not overwrite:
        raise UsageError(
            f"{existing[0]} exists already.", "Pass --force to replace it, or choose --out."
        )
    digest = detector.digest
    graph = onnx_graph(detector.generator, detector.discriminator, digest)
    arrays = sidecar_arrays(detector, digest)
    with atomic_path(out) as tmp_graph, atomic_path(sidecar, ".npz") as tmp_sidecar:
        tmp_graph.write_bytes(graph)
        with tmp_sidecar.open("wb") as handle:
            np.savez(handle, **arrays)
    return ExportedFiles(out, sidecar, detector.score_name, detector.threshold())


def onnx_graph(generator: Generator, discriminator: Discriminator, digest: str) -> bytes:
    """The serialised graph, weights inside, with a dynamic batch axis; its metadata holds the
    model's digest, which the sidecar holds too."""
    import onnx

    net = generator.config
    example = torch.zeros((2, 1, net.isize, net.isize))
    module = SegmentNetwork(generator, discriminator).cpu()
    with torch.no_grad(), eval_mode(module), _quiet_exporter():
        program = torch.onnx.export(
            module,
            (example,),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            optimize=False,  # onnxruntime optimises the graph when it loads it
            verbose=False,
        )
    model = program.model_proto
    model.doc_string = f"AEGAN-AD segment network, isize {net.isize}; see the sidecar .npz"
    onnx.helper.set_model_props(model, {DIGEST_KEY: digest})
    buffer = io.BytesIO()
    onnx.save_model(model, buffer)
    return buffer.getvalue()


def sidecar_arrays(detector: Detector, digest: str) -> dict[str, np.ndarray]:
    """Metadata (as one JSON string) and the arrays of the log-mel and the D scores."""
    cfg = detector.cfg
    train = detector.train_embeddings.astype(np.float64)
    unit = train / np.linalg.norm(train, axis=1, keepdims=True)
    k_distance, lrd = lof_reference(unit, LOF_NEIGHBOURS)
    mean, precision = detector.embedding_detectors.gaussian
    meta = {
        "format": FORMAT_VERSION,
        "model": detector.name,
        "digest": digest,
        "year": cfg.year,
        "machine": cfg.machine,
        "score": detector.score_name,
        "threshold": detector.threshold(),
        "scaler": {"max": detector.scaler.max, "min": detector.scaler.min},
        "sample_rate": cfg.feat.sample_rate,
        "channel": cfg.feat.channel,  # what a caller feeds of a multi-channel recording
        "n_fft": cfg.feat.n_fft,
        "hop_length": cfg.feat.hop_length,
        "top_db": cfg.feat.top_db,
        "segment_frames": cfg.feat.segment_frames,
        "segment_hop": cfg.feat.segment_hop,
        "reference_segments": detector.reference_segments,
        "knn_neighbours": KNN_NEIGHBOURS,
        "lof_neighbours": LOF_NEIGHBOURS,
    }
    return {
        "meta": np.array(json.dumps(meta)),
        "mel_basis": mel_filterbank(cfg.feat),
        "embedding_mean": mean,
        "embedding_precision": precision,
        "train_unit_embeddings": unit,
        "lof_k_distance": k_distance,
        "lof_lrd": lrd,
    }


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs notes (e.g. on torchvision's absence) and torch's own deprecation of
    ``LeafSpec`` warns from inside it: neither is the user's concern. Other warnings pass."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\bLeafSpec\b", category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _require_export_extra() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise missing_extra_error(exc.name or "onnx") from None
