"""The original AEGAN-AD checkpoints (``.pth``) and their import into a bundle.

A published checkpoint is ``torch.save({'netG': ..., 'netD': ..., 'best_hmean'
(2022) or 'best_aver' (2020): float})``. It is read with
``torch.load(weights_only=True)``, so loading it runs no code, and its state
dicts load into aegan's networks strictly, under their original names.
Scaling statistics, training embeddings and thresholds are not in it: they are
computed from the training data (``import_checkpoint``).
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from aegan.config.schema import Config
from aegan.errors import ModelError, first_line
from aegan.model.nets import Discriminator, Generator, load_strict

RECORDED_FIGURES = ("best_hmean", "best_aver")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's dictionary; a clear ModelError if the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"Checkpoint {path} does not exist.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise ModelError(
            f"{path} is not a readable PyTorch checkpoint ({first_line(exc)}).",
            "Download it again; a browser may have saved an HTML page instead of the file.",
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
    recorded = next((float(data[k]) for k in RECORDED_FIGURES if k in data), None)
    return generator.eval(), discriminator.eval(), recorded
