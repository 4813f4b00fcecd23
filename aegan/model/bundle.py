"""The model bundle: one safetensors file holding everything a detector needs (docs/method.md section 12).

Tensors: the generator (``netG.*``) and discriminator (``netD.*``) weights,
the training clips' embeddings and 19 scores, and the mean training
spectrogram. Metadata (JSON strings): the format and version, the config, the
scaling statistics, the provenance and the score names. Reading never
unpickles anything, and ``describe_bundle`` reads the metadata alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aegan import paths
from aegan.config.keys import to_dict
from aegan.config.schema import Config, config_from_dict
from aegan.errors import ConfigError, ModelError
from aegan.features.segments import Scaler
from aegan.model.nets import Discriminator, Generator, load_strict
from aegan.score_names import SCORE_NAMES

BUNDLE_FORMAT = "aegan-bundle"
BUNDLE_VERSION = 1
BUNDLE_SUFFIX = ".safetensors"
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
    provenance: dict[str, Any]


@dataclass(frozen=True)
class LocalModel:
    """A bundle in the models folder, described from its metadata alone (no tensors read)."""

    name: str
    path: Path
    year: int
    machine: str
    score: str
    source: str
    size: int
    modified: float


def bundle_name(path: Path) -> str:
    return Path(path).name.removesuffix(BUNDLE_SUFFIX)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def base_provenance(source: str, **details: Any) -> dict[str, Any]:
    return {"source": source, "created": now_iso(), "aegan_version": version("aegan"), **details}


def _cpu_state(prefix: str, net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def write_bundle(path: Path, bundle: Bundle) -> Path:
    """Write the bundle atomically; returns its path."""
    tensors = {**_cpu_state("netG.", bundle.generator), **_cpu_state("netD.", bundle.discriminator)}
    for key in ARRAYS:
        tensors[key] = torch.from_numpy(np.ascontiguousarray(getattr(bundle, key)))
    metadata = {
        "format": BUNDLE_FORMAT,
        "version": str(BUNDLE_VERSION),
        "config": json.dumps(to_dict(bundle.cfg)),
        "scaler": json.dumps({"max": bundle.scaler.max, "min": bundle.scaler.min}),
        "provenance": json.dumps(bundle.provenance),
        "score_names": json.dumps(list(SCORE_NAMES)),
    }
    with paths.atomic_path(Path(path), suffix=BUNDLE_SUFFIX) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return Path(path)


def _corrupt(path: Path, reason: str) -> ModelError:
    return ModelError(
        f"Cannot load the model bundle {path}: {reason}.",
        "The file is damaged or not a model bundle: fetch, train or import the model again.",
    )


def _open(path: Path, with_tensors: bool) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata (checked to be an aegan bundle this version reads) and, if asked, the tensors."""
    if not path.is_file():
        raise ModelError(f"Model bundle {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as fh:  # one read: tensors and metadata
            metadata = fh.metadata() or {}
            # a safe_open handle is not iterable: keys() is its API, not a dict's
            keys = fh.keys() if with_tensors else []
            tensors = {key: fh.get_tensor(key) for key in keys}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _corrupt(path, str(exc)) from None
    if metadata.get("format") != BUNDLE_FORMAT:
        raise _corrupt(path, "it is a safetensors file but not an aegan model bundle")
    if int(metadata.get("version", "0")) > BUNDLE_VERSION:
        raise ModelError(
            f"{path} was written by a newer aegan (bundle version {metadata['version']}).",
            "Upgrade aegan: pip install -U aegan.",
        )
    return metadata, tensors


def _net(net: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str, path: Path):
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    what = f"Cannot load the model bundle {path}: its {prefix.rstrip('.')} weights do not fit its config"
    hint = "The file is damaged or not a model bundle: fetch, train or import the model again."
    return load_strict(net, state, what, hint).eval()


def read_bundle(path: Path) -> Bundle:
    """Read a bundle; any corruption or mismatch is a ModelError naming the file."""
    path = Path(path)
    metadata, tensors = _open(path, with_tensors=True)
    _require_finite_tensors(path, tensors)
    try:
        cfg = config_from_dict(json.loads(metadata["config"]))
        scaling = json.loads(metadata["scaler"])
        bundle = Bundle(
            cfg=cfg,
            generator=_net(Generator(cfg.net), tensors, "netG.", path),
            discriminator=_net(Discriminator(cfg.net), tensors, "netD.", path),
            scaler=Scaler(float(scaling["max"]), float(scaling["min"])),
            provenance=json.loads(metadata.get("provenance", "{}")),
            **{key: tensors[key].numpy() for key in ARRAYS},
        )
    except (KeyError, ValueError, ConfigError) as exc:
        raise _corrupt(path, f"missing or invalid entry {exc}") from None
    if bundle.train_scores.shape != (len(bundle.train_embeddings), len(SCORE_NAMES)):
        raise _corrupt(path, "its training scores do not match its training embeddings")
    scaler = bundle.scaler
    if not (np.isfinite(scaler.max) and np.isfinite(scaler.min) and scaler.max > scaler.min):
        raise _corrupt(
            path,
            f"its scaler is degenerate (max {scaler.max:g}, min {scaler.min:g}; "
            "max must be finite and above min)",
        )
    return bundle


def _require_finite_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise _corrupt(path, f"its tensor {key} holds NaN or infinity")


def describe_bundle(path: Path) -> LocalModel | None:
    """A bundle's name, year, machine, score and source; None if it is not a readable bundle."""
    try:
        metadata, _ = _open(Path(path), with_tensors=False)
        cfg = json.loads(metadata["config"])
        provenance = json.loads(metadata.get("provenance", "{}"))
        stat = path.stat()
        return LocalModel(
            name=bundle_name(path),
            path=path,
            year=int(cfg["year"]),
            machine=str(cfg["machine"]),
            score=str(cfg["detect"]["score"]),
            source=str(provenance.get("source", "unknown")),
            size=stat.st_size,
            modified=stat.st_mtime,
        )
    except (ModelError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
