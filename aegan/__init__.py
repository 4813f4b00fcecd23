"""aegan: AEGAN-AD anomalous sound detection for machines (DCASE Task 2, 2020 to 2026).

from aegan import Detector
detector = Detector.load("fan22")
detector.score("mic.wav")           # a float; higher is more anomalous
detector.score("mic.wav") > detector.threshold()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Detector", "__version__"]

if TYPE_CHECKING:
    from aegan.detector.detector import Detector


def __getattr__(name: str) -> Any:
    # Imported on first use, so that the command line starts without loading torch
    # (Detector) or reading the installed packages' metadata (__version__).
    if name == "Detector":
        from aegan.detector.detector import Detector

        return Detector
    if name == "__version__":
        from importlib.metadata import version

        return version("aegan")
    raise AttributeError(f"module 'aegan' has no attribute {name!r}")
