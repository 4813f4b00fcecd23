"""The one grammar of a device choice: ``auto``, ``cpu``, a GPU index or a list of them.

The ``device`` setting and every ``--gpu`` / ``device=`` value are read here
(torch-free, so the settings check costs nothing); ``aegan.model.devices``
turns a parsed choice into torch devices.
"""

from __future__ import annotations

from typing import Literal

DeviceSpec = Literal["auto", "cpu"] | tuple[int, ...]
"""``auto`` (the first GPU when present, else the CPU), ``cpu``, or GPU indices."""

DEVICE_WORDS = "auto, cpu, a GPU index (0, cuda:1) or a list (0,1)"


def parse_device_spec(text: str) -> DeviceSpec:
    """A device choice as given by a user; ValueError (naming what is allowed) otherwise."""
    words = str(text).strip().lower()
    if words in ("", "auto"):
        return "auto"
    if words == "cpu":
        return "cpu"
    try:
        indices = tuple(int(part.strip().removeprefix("cuda:")) for part in words.split(","))
    except ValueError:
        raise ValueError(f"a device is {DEVICE_WORDS}, not {text!r}") from None
    if any(i < 0 for i in indices):
        raise ValueError(f"a GPU index is 0 or more, not {text!r}")
    return indices
