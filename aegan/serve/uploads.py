"""Receiving an uploaded recording into the service's private folder, within a size limit.

The body arrives as raw audio (any content type but multipart) or as
multipart/form-data with one file part; either way it is streamed to disk as it
arrives, so memory stays flat whatever the size, and it is refused as soon as it
passes the limit. Every upload gets its own folder inside the private one; the
caller deletes it once the recording is scored, and also when the client goes
away mid-upload.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

RAW_SUFFIXES = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
                "audio/flac": ".flac", "audio/x-flac": ".flac"}  # fmt: skip
"""Content types of a raw body and the suffix its file gets; any other type: no suffix."""

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(Exception):
    """An upload the service refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def too_large(limit: int) -> UploadError:
    return UploadError(
        413, f"The upload is over the limit of {limit / 2**20:g} MB; send a shorter recording."
    )


def safe_name(name: str | None, default: str = "upload") -> str:
    """The last part of a client's file name, with only harmless characters: a name, never a path."""
    base = SAFE_NAME.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip("._")
    return base[:100] or default


@contextmanager
def upload_folder(root: Path) -> Iterator[Path]:
    """A fresh folder for one upload inside the private root, removed with all it holds."""
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def receive(
    chunks: AsyncIterator[bytes], content_type: str, folder: Path, limit: int
) -> Path:
    """Write the upload into ``folder``; its path, named after the client's file name."""
    kind, options = parse_options_header(content_type or "application/octet-stream")
    if kind == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise UploadError(422, "The multipart upload has no boundary in its Content-Type.")
        return await _receive_multipart(chunks, boundary, folder, limit)
    path = folder / ("upload" + RAW_SUFFIXES.get(kind.decode("latin-1"), ""))
    with path.open("wb") as out:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            out.write(chunk)
    if size == 0:
        raise UploadError(422, "The request has no body; send a WAV or FLAC file.")
    return path


class _FilePart:
    """The callbacks of the multipart parser: the first part with a file name goes to disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.out: BinaryIO | None = None
        self.extra_file = False
        self._field = self._value = b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }

    def _add(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if filename is None:
            return  # a plain form field: read and dropped
        if self.path is not None:
            self.extra_file = True
            return
        self.path = self.folder / safe_name(filename.decode("utf-8", "replace"))
        self.out = self.path.open("wb")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.out.write(data[start:end])

    def _part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None

    def close(self) -> None:
        self._part_end()


async def _receive_multipart(
    chunks: AsyncIterator[bytes], boundary: bytes, folder: Path, limit: int
) -> Path:
    part = _FilePart(folder)
    parser = MultipartParser(boundary, part.callbacks())
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(422, f"The multipart upload is malformed: {exc}.") from None
    finally:
        part.close()
    if part.path is None:
        raise UploadError(422, "The multipart upload holds no file; send it as the field 'file'.")
    if part.extra_file:
        raise UploadError(422, "The upload holds several files; send one file per request.")
    return part.path
