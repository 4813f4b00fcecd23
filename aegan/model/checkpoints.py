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
from aegan.errors import ModelError
from aegan.features.cache import prepare_machine
from aegan.hub.download import file_digests
from aegan.model.detector import Detector, base_provenance
from aegan.model.nets import Discriminator, Generator
from aegan.model.registry import bundle_path
from aegan.progress import Progress, no_progress

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
            f"{path} is not a readable PyTorch checkpoint ({_first_line(exc)}).",
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def load_state(
    net: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str, cfg: Config
) -> None:
    """Strict load; a mismatch names the machine, year and the first differences."""
    try:
        net.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"The checkpoint's {what} does not fit the {cfg.machine} (DCASE {cfg.year}) network "
            f"({_first_line(exc)}).",
            "Check that the checkpoint is for this machine type and year, or pass the config it "
            "was trained with (--config / --set, e.g. net.norm_g).",
        ) from None


def networks_from_checkpoint(
    path: Path, cfg: Config
) -> tuple[Generator, Discriminator, float | None]:
    """The generator, discriminator and recorded dev figure of an original checkpoint."""
    data = read_checkpoint(path)
    generator, discriminator = Generator(cfg.net), Discriminator(cfg.net)
    load_state(generator, data["netG"], "generator", cfg)
    load_state(discriminator, data["netD"], "discriminator", cfg)
    recorded = next((float(data[k]) for k in RECORDED_FIGURES if k in data), None)
    return generator.eval(), discriminator.eval(), recorded


def import_checkpoint(
    path: Path,
    cfg: Config,
    root: Path,
    name: str,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    source: dict[str, Any] | None = None,
    progress: Progress = no_progress,
) -> Detector:
    """A calibrated bundle from an original checkpoint and the machine's training data.

    The training features give the scaling statistics, the training embeddings
    and the thresholds; the bundle is saved under ``name`` in the models folder.
    """
    generator, discriminator, recorded = networks_from_checkpoint(path, cfg)
    prepared = prepare_machine(cfg, root, progress, include_test=False)
    train_sets = [p.features for key, p in prepared.items() if key.endswith("_train")]
    provenance = base_provenance(
        "imported",
        checkpoint=Path(path).name,
        checkpoint_sha256=file_digests(Path(path))[1],
        recorded_figure=recorded,
        train_set=cfg.train_set,
        **(source or {}),
    )
    detector = Detector.calibrate(
        cfg, generator.to(device), discriminator.to(device), train_sets,
        provenance=provenance, name=name, batch_size=batch_size, progress=progress,
    )  # fmt: skip
    detector.save(bundle_path(name))
    return detector
