"""A stream of audio: standard input (``-``), a pipe or a file, as WAV or raw PCM.

Bytes are decoded by soundfile as the same samples in a WAV file would be, so a
recorded stream scores exactly as ``aegan score --timeline`` scores the file. A
WAV stream's header is read as it comes (a streaming writer leaves its sizes
open); raw PCM needs ``--format``, ``--rate`` and ``--channels``. When the stream
ends, its last full window, ending on the last sample, is scored.
"""

from __future__ import annotations

import io
import struct
import sys
import time
from typing import BinaryIO

import numpy as np
import soundfile as sf

from aegan.errors import DataError
from aegan.monitor.sources.feed import Feed
from aegan.monitor.spec import PcmFormat, SourceSpec
from aegan.monitor.windows import StreamWindows

CHUNK_SECONDS = 0.25
"""Bytes are read about this much audio at a time (less when less has arrived)."""

_WAV_FORMATS = {(1, 8): "u8", (1, 16): "s16le", (1, 24): "s24le", (1, 32): "s32le",
                (3, 32): "f32le", (3, 64): "f64le"}  # fmt: skip


def open_stream(spec: SourceSpec) -> BinaryIO:
    if spec.stream is not None:
        return spec.stream
    if spec.target == "-":
        return sys.stdin.buffer
    try:
        return open(spec.target, "rb")
    except OSError as exc:
        raise DataError(f"Cannot open the stream {spec.target}: {exc.strerror}.") from None


def _exactly(fh: BinaryIO, size: int, what: str) -> bytes:
    data = b""
    while len(data) < size:
        more = fh.read(size - len(data))
        if not more:
            raise DataError(
                f"The stream ended inside its WAV header ({what}).",
                "Send a WAV stream, or raw PCM with --format s16le --rate R --channels C.",
            )
        data += more
    return data


def read_wav_header(fh: BinaryIO) -> PcmFormat:
    """The format of a WAV stream, read up to the start of its samples."""
    riff = _exactly(fh, 12, "RIFF header")
    if riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
        raise DataError(
            "The stream is not WAV (it does not start with a RIFF/WAVE header).",
            "For raw PCM give --format s16le|s32le|f32le with --rate and --channels.",
        )
    found = None
    while True:
        chunk_id, size = struct.unpack("<4sI", _exactly(fh, 8, "chunk header"))
        if chunk_id == b"data":
            break
        body = _exactly(fh, size + (size & 1), chunk_id.decode("latin-1"))
        if chunk_id == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                tag = struct.unpack("<H", body[24:26])[0]
            found = (_WAV_FORMATS.get((tag, bits)), rate, channels, tag, bits)
    if found is None or found[0] is None:
        detail = "no fmt chunk" if found is None else f"format {found[3]}, {found[4]} bits"
        raise DataError(
            f"The WAV stream's samples cannot be read ({detail}).",
            "Send PCM (8, 16, 24 or 32 bits) or 32/64-bit float WAV.",
        )
    return PcmFormat(found[0], found[1], found[2])


def decode(data: bytes, fmt: PcmFormat) -> np.ndarray:
    """Whole frames of raw PCM as (frames, channels) float32, as soundfile reads a WAV of them."""
    if not data:
        return np.empty((0, fmt.channels), np.float32)
    return sf.read(
        io.BytesIO(data), dtype="float32", always_2d=True, format="RAW", subtype=fmt.subtype,
        samplerate=fmt.rate, channels=fmt.channels, endian="LITTLE",
    )[0]  # fmt: skip


class StreamReader:
    """Reads one stream until it ends or the monitor stops."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.fh = open_stream(spec)

    def run(self, feed: Feed) -> None:
        fmt = self.spec.pcm or read_wav_header(self.fh)
        windows = StreamWindows(fmt.rate, feed.window_seconds, feed.hop_seconds)
        chunk = max(1, round(CHUNK_SECONDS * fmt.rate)) * fmt.frame_bytes
        read = getattr(self.fh, "read1", self.fh.read)
        t0, index, rest = None, 0, b""
        while not feed.stopping.is_set():
            data = read(chunk)
            if not data:
                break
            t0 = time.time() - windows.total / fmt.rate if t0 is None else t0
            data, whole = rest + data, (len(rest) + len(data)) // fmt.frame_bytes * fmt.frame_bytes
            rest = data[whole:]
            for raw in windows.feed(decode(data[:whole], fmt)):
                feed.window(raw, t0 + raw.offset, self._what(raw), index=index)
                index += 1
        if feed.stopping.is_set():
            return
        last = windows.finish()
        if last is not None:
            feed.window(last, (t0 or time.time()) + last.offset, self._what(last), index=index)
        elif index == 0:
            feed.runtime.error(
                f"The stream ended after {windows.total / fmt.rate:.2f} s, before one window "
                f"({feed.window_seconds:g} s) was complete; nothing was scored.",
            )

    def _what(self, raw) -> str:
        name = "standard input" if self.spec.target == "-" else self.spec.target
        return f"{name} from {raw.offset:.2f} s to {raw.offset + raw.seconds:.2f} s"

    def close(self) -> None:
        """Nothing to interrupt: the reader checks ``stopping`` after each read."""
