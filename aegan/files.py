"""Properties of the files aegan writes: their modes, their disk space, their names.

The staging writers of ``aegan.paths`` use these, and so do a few readers: a
tempfile-made file is private (0600) until given the mode the umask allows, a
memory-mapped file reserves its space so that a full disk is an error rather
than a SIGBUS, a name that is not UTF-8 is refused before the audio library
chokes on it, and ``torch.save`` reports a failed write as the OSError it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO

STAGING_SUFFIX = ".part"
"""Ends the name of what ``atomic_path`` and ``staging_dir`` write before it is complete."""


def replace_dir(staged: Path, target: Path) -> None:
    """Put the complete folder ``staged`` at ``target``, replacing what was there as a whole.

    Readers see the old folder or the new one, never a mix of both. The old one is
    moved aside under a staging name (swept if the process dies right then) and removed.
    """
    target = Path(target)
    if not target.exists():
        os.replace(staged, target)
        return
    aside = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.old.", suffix=STAGING_SUFFIX, dir=target.parent)
    )
    os.replace(target, aside / target.name)
    try:
        os.replace(staged, target)
    except BaseException:
        os.replace(aside / target.name, target)  # the old folder back where it was
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def current_umask() -> int:
    """This process's umask, read without changing it where the system can tell it (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_change:  # elsewhere: set and restore it, one thread at a time
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_umask_change = threading.Lock()


def follow_umask(target: int | Path, mode: int) -> None:
    """Give a file or folder made by tempfile (private) the mode the umask lets others have."""
    if os.name != "nt":
        os.chmod(target, mode & ~current_umask())


def preallocate(path: Path) -> None:
    """Reserve the disk space of a file's whole current length (a memory-mapped one).

    A memory map of a sparse file fills the disk page by page, and a full disk
    then kills the process with SIGBUS; reserved space makes it an OSError here.
    """
    size = os.path.getsize(path)
    if hasattr(os, "posix_fallocate"):
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):  # unsupported: zeros below
                raise
        finally:
            os.close(fd)
    with open(path, "r+b") as fh:  # macOS, Windows and some drives: write the map's zeros
        while fh.tell() < size:
            fh.write(bytes(min(1 << 20, size - fh.tell())))


def printable(path: Path | str) -> str:
    """A path as text any terminal, CSV or JSON takes: bytes of a name not in UTF-8 as \\xff."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_utf8_name(path: Path | str) -> bool:
    """Whether a path is valid UTF-8 (Python keeps other bytes as surrogates, which many
    libraries cannot encode)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def save_torch(payload: Any, fh: BinaryIO) -> None:
    """``torch.save`` into an open file; a failed write is the OSError it was (a full disk is
    ENOSPC), not torch's "enforce fail at inline_container.cc"."""
    import torch  # here: nothing else of this module needs it

    writer = _RecordingWriter(fh)
    try:
        torch.save(payload, writer)  # type: ignore[arg-type]
    except RuntimeError:
        if writer.error is not None:
            raise writer.error from None
        raise


class _RecordingWriter:
    """A file's writes for ``torch.save``, keeping the OSError that torch's writer hides."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self._fh.flush()
