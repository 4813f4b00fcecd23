"""A sound card through sounddevice (PortAudio): ``--device NAME|INDEX``, ``--list-devices``.

PortAudio's callback only copies each block into a queue; the reader thread
cuts the windows. Where PortAudio is missing, one message names the system
package and the stream alternative.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Any

from aegan.errors import SystemFailure, UsageError
from aegan.monitor.sources.feed import Feed
from aegan.monitor.spec import SourceSpec
from aegan.monitor.windows import StreamWindows

BLOCK_SECONDS = 0.1


def sounddevice() -> Any:
    """The sounddevice module, or one clear message when it or PortAudio is missing."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise SystemFailure(
            f"Sound cards cannot be used: {str(exc).strip() or 'PortAudio is missing'}.",
            "Install PortAudio (Debian/Ubuntu: sudo apt install libportaudio2) and "
            "sounddevice (pip install 'aegan[watch]'), or pipe audio in instead: "
            "arecord -f S16_LE -r 16000 -c 1 -t raw | aegan watch - --format s16le "
            "--rate 16000 --channels 1 --model NAME",
        ) from None
    return sd


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    sample_rate: float
    default: bool


def list_devices() -> list[InputDevice]:
    """The sound cards that can record."""
    sd = sounddevice()
    try:
        default = sd.default.device[0]
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise SystemFailure(f"PortAudio cannot list the sound cards: {exc}.") from None
    return [
        InputDevice(i, d["name"], d["max_input_channels"], d["default_samplerate"], i == default)
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def find_device(target: str) -> InputDevice:
    """A device by index or by (part of) its name; a wrong one lists those there are."""
    devices = list_devices()
    for device in devices:
        if target.isdigit() and device.index == int(target):
            return device
    matches = [d for d in devices if target.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(f"{d.index}: {d.name}" for d in devices) or "none"
    raise UsageError(
        f"No single recording device matches {target!r}"
        + (f" ({len(matches)} do)." if matches else "."),
        f"Give an index or a distinct part of a name; recording devices: {names}.",
    )


class DeviceReader:
    """Records from one sound card until the monitor stops."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.device = find_device(spec.target)
        self.blocks: queue.Queue = queue.Queue()
        self.overflows = 0

    def _callback(self, indata, frames, when, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        self.blocks.put(indata.copy())

    def run(self, feed: Feed) -> None:
        sd = sounddevice()
        rate = feed.model_rate
        windows = StreamWindows(rate, feed.window_seconds, feed.hop_seconds)
        t0, index, overflows = None, 0, 0
        with sd.InputStream(
            device=self.device.index, channels=1, samplerate=rate, dtype="float32",
            blocksize=round(BLOCK_SECONDS * rate), callback=self._callback,
        ):  # fmt: skip
            while not feed.stopping.is_set():
                try:
                    block = self.blocks.get(timeout=0.2)
                except queue.Empty:
                    continue
                t0 = time.time() - windows.total / rate if t0 is None else t0
                if self.overflows != overflows:
                    overflows = self.overflows
                    feed.runtime.error(f"The sound card lost samples ({overflows} overflows).")
                for raw in windows.feed(block):
                    what = f"device {self.device.name} at {raw.offset:.2f} s"
                    feed.window(raw, t0 + raw.offset, what, index=index)
                    index += 1

    def close(self) -> None:
        """Nothing to interrupt: the reader checks ``stopping`` every 0.2 s."""
