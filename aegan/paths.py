"""Where aegan keeps its files.

Everything lives under one home folder so that a user (or a test) can move all
state at once: ``AEGAN_HOME`` when set, otherwise the platform's user cache and
config folders (platformdirs, app name ``aegan``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

APP_NAME = "aegan"
HOME_ENV = "AEGAN_HOME"

RESULTS_FILE = "results.json"
"""In a results folder of ``aegan test``: the figures and what produced them."""
SCORES_FILE = "scores.csv"
"""In a results folder: every test clip's 19 scores."""


def home() -> Path | None:
    """The folder named by ``AEGAN_HOME``, or None when it is unset."""
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def cache_dir() -> Path:
    """Root of everything aegan downloads or computes (features, models, data)."""
    root = home()
    return root / "cache" if root else Path(platformdirs.user_cache_dir(APP_NAME))


def config_dir() -> Path:
    """Folder of the user config file ``config.yaml``."""
    root = home()
    return root / "config" if root else Path(platformdirs.user_config_dir(APP_NAME))


def user_config_file() -> Path:
    return config_dir() / "config.yaml"


def features_dir() -> Path:
    return cache_dir() / "features"


def models_dir() -> Path:
    return cache_dir() / "models"


def checkpoints_dir() -> Path:
    """Original ``.pth`` checkpoints fetched from the published share."""
    return cache_dir() / "checkpoints"


def data_dir() -> Path:
    """Default root for downloaded DCASE data, one folder per year."""
    return cache_dir() / "data"


def dcase_data_dir(year: int) -> Path:
    """Where downloaded data of a DCASE year goes unless the user chose a root."""
    return data_dir() / f"dcase{year}"


def runs_dir() -> Path:
    """Training runs: per-epoch checkpoints and logs."""
    return cache_dir() / "runs"


def results_dir() -> Path:
    """Outputs of ``aegan test``: one folder per model and split."""
    return cache_dir() / "results"


@contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    On any error the temporary file is removed, so a reader never sees a
    half-written file and a failed run leaves nothing behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix + ".part", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, read once."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def machine_features_dir(year: int, machine: str) -> Path:
    """The feature caches of one machine type of one DCASE year."""
    return features_dir() / str(year) / machine


def demo_dir() -> Path:
    """What ``aegan demo`` writes: its synthetic data set."""
    return cache_dir() / "demo"


def maps_dir(model: str) -> Path:
    """Default output folder of ``aegan localize`` for a model."""
    return cache_dir() / "localize" / model
