"""Where aegan keeps its files.

Everything lives under one home folder so that a user (or a test) can move all
state at once: ``AEGAN_HOME`` when set, otherwise the platform's user cache and
config folders (platformdirs, app name ``aegan``). Writers there use atomic
writes, inter-process file locks, and sweep what killed writers left behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import platformdirs

from aegan.errors import UsageError
from aegan.files import STAGING_SUFFIX, follow_umask

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: msvcrt byte locks, and no sweeping
    fcntl = None  # type: ignore[assignment]
    import msvcrt

APP_NAME = "aegan"
HOME_ENV = "AEGAN_HOME"


RESULTS_FILE = "results.json"
"""In a results folder of ``aegan test``: the figures and what produced them."""
SCORES_FILE = "scores.csv"
"""In a results folder: every test clip's 19 scores."""


def home() -> Path | None:
    """The folder ``AEGAN_HOME`` names (None when unset); a UsageError if it is not a folder."""
    value = os.environ.get(HOME_ENV, "").strip()
    folder = Path(value).expanduser().resolve() if value else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise UsageError(
            f"{HOME_ENV} is {folder}, which is a file, not a folder.",
            f"Point {HOME_ENV} (or --home) at a folder (it is created when missing), or unset it.",
        )
    return folder


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
    half-written file and a failed run leaves nothing behind. While it is
    written the temporary file is locked, so ``sweep_stale`` can tell it from
    the leftover of a killed process.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix + STAGING_SUFFIX, dir=target.parent
    )
    tmp = Path(tmp_name)
    try:
        follow_umask(fd, 0o666)  # mkstemp makes it 0600: the file gets the mode open() gives
        if fcntl is not None:
            _lock(fd, wait=False)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A new hidden folder next to ``target`` to assemble files in, removed afterwards.

    Locked like ``atomic_path``'s file, so a folder left by a killed process is
    swept by the next ``sweep_stale`` of its parent.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=STAGING_SUFFIX, dir=target.parent)
    )
    follow_umask(folder, 0o777)  # mkdtemp makes it 0700: it may become the folder itself
    fd = os.open(folder, os.O_RDONLY) if fcntl is not None else None
    try:
        if fd is not None:
            _lock(fd, wait=False)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if fd is not None:
            os.close(fd)


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


# ---------------------------------------------------------------- locks between processes


def _lock(fd: int, wait: bool) -> bool:
    """Take the exclusive advisory lock of an open file; False when another holder has it."""
    if fcntl is None:  # pragma: no cover - Windows
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not wait:
                    return False
                time.sleep(0.05)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def lock_file(target: Path) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` beside it, there while the lock is held."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


def _open_locked(path: Path, on_wait: Callable[[], None] | None) -> int:
    """An open descriptor of ``path`` holding its lock, waiting for the holder if needed.

    The holder deletes the file on release (no lock files are left behind), so a
    waiter that wakes on a deleted file tries again on the one now at ``path``.
    """
    waited = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _lock(fd, wait=False):
            if on_wait is not None and not waited:
                on_wait()
            waited = True
            _lock(fd, wait=True)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            return fd
        os.close(fd)


_held = threading.local()  # the lock files this thread holds, for re-entry


@contextmanager
def file_lock(target: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``target``'s inter-process lock for the block, waiting while another process
    or thread holds it (``on_wait`` is called once if so, to say why nothing happens).

    Two processes that write the same file (two ``aegan fetch`` of one model, two
    ``prepare`` of one machine) take turns instead of writing one file at once.
    The operating system releases the lock when its process dies, so a killed
    writer never blocks the next run. A thread may take a lock it holds again.
    """
    path = lock_file(target).absolute()
    held: set[Path] = _held.__dict__.setdefault("paths", set())
    if path in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_locked(path, on_wait)
    held.add(path)
    try:
        yield
    finally:
        held.discard(path)
        with suppress(OSError):  # Windows cannot delete an open file
            path.unlink(missing_ok=True)  # while still holding it: see _open_locked
        os.close(fd)


def _is_live(entry: Path) -> bool:
    """Whether a staging file or folder is still being written (its writer holds its lock)."""
    if fcntl is None:  # pragma: no cover - Windows: staging entries are not locked
        return True
    try:
        fd = os.open(entry, os.O_RDONLY)
    except OSError:
        return True  # gone or unreadable: not ours to remove
    try:
        return not _lock(fd, wait=False)
    finally:
        os.close(fd)


def sweep_stale(folder: Path) -> list[Path]:
    """Remove the staging files and folders in ``folder`` whose writer is dead.

    They are the hidden ``.<name>.*.part`` entries of ``atomic_path`` and
    ``staging_dir`` that no process holds locked: the leftovers of a killed run
    (``kill -9``, power loss), which would otherwise fill the disk. Entries being
    written by a live process, in this process or another, are kept. Returns what
    was removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.glob(f".*{STAGING_SUFFIX}")):
        if _is_live(entry):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
