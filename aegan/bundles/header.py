"""A model bundle's metadata, read without torch (docs/method.md section 12).

Listing models (``aegan models``, ``aegan fetch --list``, a missing
``--model``) needs each bundle's name, year, machine, score and source, all
in the safetensors header. Reading that header through safetensors' numpy
side costs milliseconds; importing torch to do it cost seconds, on every
listing. ``bundle.py`` reads the tensors and uses the same checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError, safe_open

from aegan.bundles.provenance import Provenance
from aegan.errors import ModelError, why_not_a_file

BUNDLE_FORMAT = "aegan-bundle"
BUNDLE_VERSION = 1
BUNDLE_SUFFIX = ".safetensors"


@dataclass
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
    data: str | None = None  # the own data folder it was trained on (None: DCASE data)


def bundle_name(path: Path) -> str:
    return Path(path).name.removesuffix(BUNDLE_SUFFIX)


def corrupt(path: Path, reason: str) -> ModelError:
    return ModelError(
        f"Cannot load the model bundle {path}: {reason}.",
        "The file is damaged or not a model bundle: fetch, train or import the model again.",
    )


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a bundle, checked to be an aegan bundle this version reads."""
    require_file(path)
    try:
        with safe_open(str(path), framework="numpy") as fh:  # the header only: no tensor read
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise corrupt(path, str(exc)) from None
    return checked_metadata(path, metadata)


def require_file(path: Path, hint: str | None = None) -> None:
    """Refuse a bundle path that is not a regular file, saying what it is instead."""
    if not path.is_file():
        raise ModelError(f"Model bundle {path} {why_not_a_file(path)}.", hint)


def checked_metadata(path: Path, metadata: dict[str, str]) -> dict[str, str]:
    """``metadata`` of the file ``path``, checked to be an aegan bundle this version reads."""
    if metadata.get("format") != BUNDLE_FORMAT:
        raise corrupt(path, "it is a safetensors file but not an aegan model bundle")
    written = metadata.get("version", "0")
    if not written.isdigit():
        raise corrupt(path, f"its version {written!r} is not a version number")
    if int(written) > BUNDLE_VERSION:
        raise ModelError(
            f"{path} was written by a newer aegan (bundle version {metadata['version']}).",
            "Upgrade aegan: pip install -U aegan.",
        )
    return metadata


def json_object(metadata: dict[str, str], key: str, default: str | None = None) -> dict:
    """A metadata entry that must hold a JSON object; ValueError naming it otherwise."""
    text = metadata[key] if default is None else metadata.get(key, default)
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"{key!r}: a JSON object was expected, not {type(value).__name__}")
    return value


def describe_bundle(path: Path) -> LocalModel | None:
    """A bundle's name, year, machine, score and source; None if it is not a readable bundle."""
    try:
        metadata = read_metadata(Path(path))
        cfg = json_object(metadata, "config")
        json_object(metadata, "scaler")  # a bundle that cannot load is not offered as a model
        provenance = Provenance.from_dict(json_object(metadata, "provenance", "{}"))
        stat = path.stat()
        return LocalModel(
            name=bundle_name(path),
            path=path,
            year=int(cfg["year"]),
            machine=str(cfg["machine"]),
            score=str(cfg["detect"]["score"]),
            source=provenance.source,
            size=stat.st_size,
            modified=stat.st_mtime,
            data=provenance.data,
        )
    except (ModelError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
