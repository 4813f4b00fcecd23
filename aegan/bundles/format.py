"""The model bundle: one safetensors file holding everything a detector needs (docs/method.md section 12).

Tensors: the generator (``netG.*``) and discriminator (``netD.*``) weights,
the training clips' embeddings and 19 scores, and the mean training
spectrogram. Metadata (JSON strings): the format and version, the config, the
scaling statistics, the provenance, the score names and the reference
segment count of length-independent scores (section 13; absent in older
bundles) and the model's digest: the SHA-256 of every tensor, which an ONNX
export carries too, so that its two files are known to belong together, and
which reading checks (absent in older bundles). Reading never unpickles
anything, and ``describe_bundle`` reads the metadata alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aegan import paths
from aegan.bundles.header import (
    BUNDLE_FORMAT,
    BUNDLE_SUFFIX,
    BUNDLE_VERSION,
    checked_metadata,
    corrupt,
    json_object,
    read_metadata,
    require_file,
)
from aegan.bundles.provenance import Provenance
from aegan.config.keys import to_dict
from aegan.config.schema import Config, config_from_dict
from aegan.errors import AeganError, ModelError
from aegan.features.segments import Scaler
from aegan.model.nets import Discriminator, Generator, load_strict
from aegan.score_names import SCORE_NAMES

ARRAYS = ("train_embeddings", "train_scores", "mean_spectrogram")


@dataclass
class Bundle:
    """What a bundle file holds, as Python objects."""

    cfg: Config
    generator: Generator
    discriminator: Discriminator
    scaler: Scaler
    train_embeddings: np.ndarray  # (N, E) float32
    train_scores: np.ndarray  # (N, 19) float64
    mean_spectrogram: np.ndarray  # (n_mels, frames) float32
    provenance: Provenance
    reference_segments: int | None = None  # None: an older bundle (the Detector falls back)


def _cpu_state(prefix: str, net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def bundle_tensors(bundle: Bundle) -> dict[str, torch.Tensor]:
    """Every tensor a bundle file holds, by its name there."""
    tensors = {**_cpu_state("netG.", bundle.generator), **_cpu_state("netD.", bundle.discriminator)}
    for key in ARRAYS:
        tensors[key] = torch.from_numpy(np.ascontiguousarray(getattr(bundle, key)))
    return tensors


def model_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the tensors (name, type, shape and bytes of each, by name): the model's
    identity, the same whichever file or process it is worked out in."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def write_bundle(path: Path, bundle: Bundle) -> Path:
    """Write the bundle atomically; returns its path."""
    tensors = bundle_tensors(bundle)
    metadata = {
        "digest": model_digest(tensors),
        "format": BUNDLE_FORMAT,
        "version": str(BUNDLE_VERSION),
        "config": json.dumps(to_dict(bundle.cfg)),
        "scaler": json.dumps({"max": bundle.scaler.max, "min": bundle.scaler.min}),
        "provenance": json.dumps(bundle.provenance.to_dict()),
        "score_names": json.dumps(list(SCORE_NAMES)),
    }
    if bundle.reference_segments is not None:
        metadata["reference_segments"] = str(bundle.reference_segments)
    with paths.atomic_path(Path(path), suffix=BUNDLE_SUFFIX) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return Path(path)


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata (checked to be an aegan bundle this version reads, before any tensor is
    read) and the tensors, from one opening of the file."""
    require_file(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = checked_metadata(path, fh.metadata() or {})
            # a safe_open handle is not iterable: keys() is its API, not a dict's
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise corrupt(path, str(exc)) from None
    return metadata, tensors


def _net(net: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str, path: Path):
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    what = f"Cannot load the model bundle {path}: its {prefix.rstrip('.')} weights do not fit its config"
    hint = "The file is damaged or not a model bundle: fetch, train or import the model again."
    return load_strict(net, state, what, hint).eval()


def read_bundle_config(path: Path) -> Config:
    """A bundle's config from its header alone (no weights read); a ModelError naming the file
    if it is not a bundle or its config is invalid."""
    return _config(Path(path), read_metadata(Path(path)))


def _config(path: Path, metadata: dict[str, str]) -> Config:
    try:
        return config_from_dict(json_object(metadata, "config"))
    except ModelError:
        raise
    except AeganError as exc:  # a saved config the current rules refuse
        raise corrupt(path, f"its config is invalid ({exc.message.rstrip('.')})") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise corrupt(path, f"missing or invalid entry {exc}") from None


def read_bundle(path: Path) -> Bundle:
    """Read a bundle; any corruption or mismatch is a ModelError naming the file."""
    path = Path(path)
    metadata, tensors = _read(path)
    _require_finite_tensors(path, tensors)
    if "digest" in metadata and metadata["digest"] != model_digest(tensors):
        raise corrupt(path, "its tensors do not match the digest it was written with")
    cfg = _config(path, metadata)
    try:
        scaling = json_object(metadata, "scaler")
        bundle = Bundle(
            cfg=cfg,
            generator=_net(Generator(cfg.net), tensors, "netG.", path),
            discriminator=_net(Discriminator(cfg.net), tensors, "netD.", path),
            scaler=Scaler(float(scaling["max"]), float(scaling["min"])),
            provenance=Provenance.from_dict(json_object(metadata, "provenance", "{}")),
            reference_segments=_reference(metadata),
            **{key: tensors[key].numpy() for key in ARRAYS},
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise corrupt(path, f"missing or invalid entry {exc}") from None
    if bundle.train_scores.shape != (len(bundle.train_embeddings), len(SCORE_NAMES)):
        raise corrupt(path, "its training scores do not match its training embeddings")
    scaler = bundle.scaler
    if not (np.isfinite(scaler.max) and np.isfinite(scaler.min) and scaler.max > scaler.min):
        raise corrupt(
            path,
            f"its scaler is degenerate (max {scaler.max:g}, min {scaler.min:g}; "
            "max must be finite and above min)",
        )
    return bundle


def _reference(metadata: dict[str, str]) -> int | None:
    """The stored reference segment count, checked; None for a bundle written before it existed."""
    if "reference_segments" not in metadata:
        return None
    text = metadata["reference_segments"]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"'reference_segments': {text!r} is not a positive whole number")
    return int(text)


UNSCORED_MAY_BE_NAN = ("train_scores",)
"""NaN there marks a training clip calibration did not score (its threshold subset)."""


def _require_finite_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    for key, tensor in tensors.items():
        if not tensor.is_floating_point():
            continue
        values = tensor[~tensor.isnan()] if key in UNSCORED_MAY_BE_NAN else tensor
        if not bool(torch.isfinite(values).all()):
            raise corrupt(path, f"its tensor {key} holds NaN or infinity")
