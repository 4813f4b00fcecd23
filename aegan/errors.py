"""The errors a user can cause and fix.

Each carries a message that says what is wrong and how to fix it, and the exit
code the command line uses for it. Anything else that escapes is a bug and is
shown with a traceback.
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
from collections.abc import Iterable

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class AeganError(Exception):
    """A problem the user can fix; the CLI prints it without a traceback."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message

    def __reduce__(self) -> tuple:
        """Pickled with its hint, so an error raised on a cluster worker arrives whole."""
        return (self.__class__, (self.message, self.hint))


class UsageError(AeganError):
    """A wrong option, name or value on the command line or in a config file."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """An unknown config key or a value of the wrong type."""


class DataError(AeganError):
    """Missing, unreadable or misnamed data."""


class AudioError(DataError):
    """A file that cannot be read as audio, or is too short to score."""


class ModelError(AeganError):
    """A model bundle or checkpoint that is missing, corrupt or does not fit."""


class DownloadError(AeganError):
    """A download that failed or did not verify."""


class SystemFailure(AeganError):
    """The operating system refused: permission denied, disk full, read-only drive..."""


class AeganWarning(UserWarning):
    """An answer that is given but less reliable (a band-limited or clipped recording...).

    The library warns with ``warnings.warn``; the command line gathers these
    and prints one note per kind, once per run.
    """


def system_failure(exc: OSError, action: str | None = None, place: object = None) -> SystemFailure:
    """An OSError as one message naming what was done, the path and the OS reason, and a
    hint for the usual causes. ``place`` stands in for the path when the OS names none
    (a write that fills the disk does not say where)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    path = exc.filename
    where = f" ({path})" if path is not None and (action is None or str(path) not in action) else ""
    message = f"Cannot {action}: {reason}{where}." if action else f"{reason}{where}."
    place = path if path is not None else place
    hints = {
        errno.EACCES: f"Check the permissions of {place} and of its folder, or choose another "
        "place (AEGAN_HOME, --data-dir, -o).",
        errno.ENOSPC: f"Free disk space on the drive of {place} and try again "
        "(aegan config set cache.features_max_gb bounds the feature cache).",
        errno.EROFS: f"{place} is on a read-only drive: choose another place (AEGAN_HOME, -o).",
    }
    hints[errno.EPERM] = hints[errno.EACCES]
    hints[errno.EDQUOT] = hints[errno.ENOSPC]
    return SystemFailure(message, hints.get(exc.errno or 0) if place is not None else None)


def did_you_mean(
    given: str,
    candidates: Iterable[str],
    *,
    otherwise: str | None = None,
    n: int = 3,
    cutoff: float = 0.6,
) -> str:
    """A hint naming the candidates closest to a mistyped name (letter case ignored).

    Without a close one: ``otherwise``, or the list of all candidates.
    """
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(given.lower(), list(by_lower), n=n, cutoff=cutoff)
    if close:
        return f"Did you mean {', '.join(by_lower[c] for c in close)}?"
    return otherwise if otherwise is not None else f"Known: {', '.join(by_lower.values())}."


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (a library's long text cut to its gist)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def why_not_a_file(path: object) -> str:
    """Why ``path`` cannot be opened as a regular file, in words a user recognises.

    "does not exist" only when that is true: a folder, a named pipe, a device,
    a link to nowhere or a loop of links each say so.
    """
    try:
        mode = os.stat(str(path)).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of symbolic links"
        if os.path.islink(str(path)):
            return f"is a symbolic link to {os.readlink(str(path))}, which does not exist"
        if exc.errno == errno.ENOENT:
            return "does not exist"
        return f"cannot be opened ({exc.strerror or exc})"
    kinds = {
        stat.S_ISDIR: "is a folder, not a file",
        stat.S_ISFIFO: "is a named pipe (FIFO), not a file",
        stat.S_ISSOCK: "is a socket, not a file",
        stat.S_ISCHR: "is a device, not a file",
        stat.S_ISBLK: "is a device, not a file",
    }
    return next((text for test, text in kinds.items() if test(mode)), "is a file")
