"""Opening audio files: what a WAV header says, and why a file will not open, in aegan's words.

libsndfile's own messages ("System error.", "SF_INFO struct incomplete") name
no cause a user can act on; here a path that is not a file says what it is,
and a header that gives 0 Hz or no channels says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from aegan.errors import AudioError, why_not_a_file


def unreadable(path: Path | str, reason: str) -> AudioError:
    """The one message for a file that cannot be read as audio, with what to do."""
    return AudioError(
        f"Cannot read {path} as audio: {reason.rstrip('.')}.",
        "Check that it is a WAV or FLAC file (re-download or re-export it), or remove it.",
    )


def _wav_chunks(fh: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """(id, size) of each chunk of an open RIFF/WAVE file, positioned at its data."""
    if fh.read(12)[8:12] != b"WAVE":
        return
    while True:
        header = fh.read(8)
        if len(header) < 8:
            return
        chunk_id, chunk_size = header[:4], int.from_bytes(header[4:], "little")
        start = fh.tell()
        yield chunk_id, chunk_size
        fh.seek(start + chunk_size + (chunk_size & 1))


def wav_data_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) byte counts of a RIFF/WAVE data chunk that ends early, else None.

    libsndfile quietly reports the frames that are present, so a download cut
    short would pass as a shorter clip; the chunk header tells the truth.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        for chunk_id, chunk_size in _wav_chunks(fh):
            if chunk_id == b"data":
                present = size - fh.tell()
                unknown = chunk_size in (0, 0xFFFFFFFF)  # streaming writers leave it open
                return None if unknown or chunk_size <= present else (chunk_size, present)
    return None


def _wav_format_fault(path: Path) -> str | None:
    """What a WAV header's format chunk gets wrong (0 Hz, 0 channels), or None."""
    with open(path, "rb") as fh:
        for chunk_id, chunk_size in _wav_chunks(fh):
            if chunk_id == b"fmt " and chunk_size >= 8:
                fmt = fh.read(8)
                channels, rate = (
                    int.from_bytes(fmt[2:4], "little"),
                    int.from_bytes(fmt[4:8], "little"),
                )
                if rate == 0:
                    return "its header gives a sample rate of 0 Hz"
                if channels == 0:
                    return "its header gives 0 channels"
                return None
    return None


def open_failure(path: Path, exc: Exception) -> AudioError:
    """Why soundfile could not open ``path``, in aegan's words rather than libsndfile's."""
    if not path.is_file():
        reason = why_not_a_file(path)
        if reason == "does not exist":
            return AudioError(
                f"{path} does not exist any more (deleted or moved after it was listed?).",
                "Check the folder, and score it again.",
            )
        return AudioError(f"{path} {reason}.", "Point at WAV or FLAC files, or a folder of them.")
    try:
        with open(path, "rb"):
            pass
        reason = _wav_format_fault(path)
    except OSError as os_exc:
        reason = os_exc.strerror or str(os_exc)
    if reason is None:  # libsndfile's own words, without its repetition of the path
        text = str(exc).strip() or type(exc).__name__
        reason = text.split(": ", 1)[1] if text.startswith("Error opening") else text
        if "SF_INFO" in reason or reason.rstrip(".") == "System error":
            reason = "its header is incomplete or not one of a WAV or FLAC file"
    return unreadable(path, reason)
