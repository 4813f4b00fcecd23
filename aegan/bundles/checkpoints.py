"""The original AEGAN-AD checkpoints (``.pth``) and their import into a bundle.

A published checkpoint is ``torch.save({'netG': ..., 'netD': ..., 'best_hmean'
(2022) or 'best_aver' (2020): float})``. It is read with
``torch.load(weights_only=True)``, so loading it runs no code, and its state
dicts load into aegan's networks strictly, under their original names.
Scaling statistics, training embeddings and thresholds are not in it: they are
computed from the training data (``import_checkpoint``).
"""

from __future__ import annotations

import math
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from aegan.config.schema import Config
from aegan.errors import ModelError, first_line
from aegan.model.nets import Discriminator, Generator, load_strict

RECORDED_FIGURES = ("best_hmean", "best_aver")


LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    zipfile.BadZipFile,
    ValueError,
    AttributeError,
    OSError,
)
"""What ``torch.load`` raises for a file that is not a safe PyTorch checkpoint."""


def load_refusal(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without torch's advice to
    load it unsafely (``weights_only=False`` can run any code the file holds)."""
    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
        return (
            "it holds Python objects other than tensors and numbers, and aegan refuses to "
            "unpickle those because unpickling can run arbitrary code"
        )
    return first_line(exc)


def load_weights_only(path: Path, map_location: Any = "cpu", *, mmap: bool = False) -> Any:
    """``torch.load`` with ``weights_only=True``; torch's refusal warnings are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's dictionary; a clear ModelError if the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Checkpoint {path} does not exist.")
    try:
        data = load_weights_only(path)
    except LOAD_ERRORS as exc:
        raise ModelError(
            f"{path} is not a readable PyTorch checkpoint: {load_refusal(exc)}.",
            "Use the checkpoint from the published share; a browser may also have saved an "
            "HTML page instead of the file.",
        ) from None
    if not isinstance(data, Mapping) or not all(
        isinstance(data.get(key), Mapping) for key in ("netG", "netD")
    ):
        raise ModelError(
            f"{path} is a PyTorch file but not an AEGAN-AD checkpoint (no 'netG' and 'netD').",
            "Use a checkpoint from the published share or one written by the original code.",
        )
    return dict(data)


def networks_from_checkpoint(
    path: Path, cfg: Config
) -> tuple[Generator, Discriminator, float | None]:
    """The generator, discriminator and recorded dev figure of an original checkpoint."""
    data = read_checkpoint(path)
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    hint = (
        "Check that the checkpoint is for this machine type and year, or pass the config it "
        "was trained with (--config / --set, e.g. net.norm_g)."
    )
    network = f"the {cfg.machine} (DCASE {cfg.year}) network"
    load_strict(generator, data["netG"], f"The checkpoint's generator does not fit {network}", hint)
    load_strict(
        discriminator, data["netD"], f"The checkpoint's discriminator does not fit {network}", hint
    )
    for name, state in (("generator", data["netG"]), ("discriminator", data["netD"])):
        _require_finite(path, name, state)
    recorded = next((float(data[k]) for k in RECORDED_FIGURES if k in data), None)
    return generator.eval(), discriminator.eval(), recorded


def _require_finite(path: Path, network: str, state: Mapping[str, Any]) -> None:
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            finite = bool(torch.isfinite(value).all())
        elif isinstance(value, float):
            finite = math.isfinite(value)
        else:
            continue
        if not finite:
            raise ModelError(
                f"{path} has non-finite weights (NaN or infinity) in the {network}'s {key}.",
                "The checkpoint is damaged or came from a diverged run: use another one.",
            )
