"""What to watch: one ``SourceSpec`` per source, with its model, alert rule and sinks.

Specs are plain values: the command line builds them from options, ``plant.py``
from a YAML file, and a program (``aegan serve``) from its own settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from aegan import paths
from aegan.errors import UsageError
from aegan.monitor.alerts import AlertRule
from aegan.monitor.quality import Quality

Kind = Literal["folder", "stream", "device", "push"]
ENCODINGS = {"s16le": "PCM_16", "s32le": "PCM_32", "f32le": "FLOAT"}
"""Raw PCM encodings a user names, as soundfile's subtypes (decoded as a WAV of them is)."""

WAV_ENCODINGS = {**ENCODINGS, "u8": "PCM_U8", "s24le": "PCM_24", "f64le": "DOUBLE"}
"""What a WAV stream's header may announce."""

SAMPLE_BYTES = {"u8": 1, "s16le": 2, "s24le": 3, "s32le": 4, "f32le": 4, "f64le": 8}


@dataclass(frozen=True)
class PcmFormat:
    """Raw PCM on a stream (``encoding`` one of ENCODINGS); None in a spec means WAV."""

    encoding: str = "s16le"
    rate: int = 16000
    channels: int = 1

    def __post_init__(self) -> None:
        if self.encoding not in WAV_ENCODINGS:
            raise UsageError(
                f"Unknown raw format {self.encoding!r}.",
                f"Use one of {', '.join(ENCODINGS)} (or no --format for a WAV stream).",
            )
        if self.rate <= 0 or self.channels <= 0:
            raise UsageError(
                f"A raw stream needs a positive rate and channel count, not {self.rate} Hz "
                f"and {self.channels} channels.",
                "Give e.g. --rate 16000 --channels 1.",
            )

    @property
    def frame_bytes(self) -> int:
        return self.channels * SAMPLE_BYTES[self.encoding]

    @property
    def subtype(self) -> str:
        return WAV_ENCODINGS[self.encoding]


@dataclass(frozen=True)
class Sinks:
    """Where a source's events and outputs go; ``folder`` defaults to the cache's watch/NAME."""

    folder: Path | None = None  # state, window scores and (beside the log) snippets
    events: Path | None = None  # the JSON Lines event log; default folder/events.jsonl
    scores: bool = True  # window scores as CSV (and Parquet with pyarrow), one file a day
    snippets: bool = True  # the audio of each alert as WAV
    snippets_max_mb: float = 200.0
    pre_roll: float | None = None  # seconds before an alert's first window; default one window
    post_roll: float | None = None
    webhook: str | None = None
    webhook_queue: int = 1000  # alert events held on disk while the receiver is down


@dataclass(frozen=True)
class SourceSpec:
    """One source: its name (in every event), what it is, its model and rules."""

    name: str
    kind: Kind
    target: str  # the folder, "-" (standard input) or a path, the device name or index
    model: str
    hop: float | None = None  # seconds between windows; default one window
    rule: AlertRule = field(default_factory=AlertRule)
    pcm: PcmFormat | None = None  # raw PCM on a stream; None: WAV
    stream: BinaryIO | None = None  # an open binary stream instead of target (tests, programs)
    from_start: bool = False  # a folder's files already there are scored too
    settle: float = 2.0  # seconds a file's size must hold still before it is read
    poll: bool = False  # poll the folder instead of using file-system events
    max_backlog: float | None = None  # seconds of audio waiting beyond which the oldest is dropped
    quality: Quality = field(default_factory=Quality)
    sinks: Sinks = field(default_factory=Sinks)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise UsageError(
                f"The source name {self.name!r} cannot be used.",
                "Use letters, digits, '.', '_' and '-' (it names the source's files).",
            )
        if self.hop is not None and not self.hop > 0:
            raise UsageError(f"The hop must be a positive number of seconds, not {self.hop!r}.")
        if self.max_backlog is not None and not self.max_backlog > 0:
            raise UsageError(
                f"--max-backlog must be a positive number of seconds, not {self.max_backlog!r}."
            )

    @property
    def folder(self) -> Path:
        """The source's own folder: state, scores, and the default event log."""
        return self.sinks.folder or paths.cache_dir() / "watch" / self.name

    @property
    def events_path(self) -> Path:
        return self.sinks.events or self.folder / "events.jsonl"

    @property
    def what(self) -> str:
        return f"{self.kind} {self.target}"


def default_name(kind: Kind, target: str, taken: set[str]) -> str:
    """A source's name from its target: the folder's name, "stdin", "device-X"; made unique."""
    base = {"stream": "stdin" if target == "-" else Path(target).stem, "device": f"device-{target}"}
    name = base.get(kind, Path(target).resolve().name or "source")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "source"
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}-{n}"
    return unique
