"""Which device(s) a command runs on: ``--gpu N``, ``--gpu 0,1``, ``--gpu cpu`` or the default."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from aegan.errors import UsageError

if TYPE_CHECKING:
    from aegan.detector.detector import Detector


def available_gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _source(spec: str | None, default: str) -> str:
    """Where a device came from, for messages: the option, or the user setting."""
    return f"--gpu {spec}" if spec is not None else f"the device setting {default!r}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def parse_devices(spec: str | None, default: str = "auto") -> list[torch.device]:
    """Devices named by a --gpu value; ``auto`` is the first GPU when present, else the CPU.

    A GPU index that does not exist is a usage error that says which exist.
    """
    source = _source(spec, default)
    text = (spec if spec is not None else default).strip().lower()
    if text in ("", "auto"):
        return [torch.device("cuda:0")] if available_gpus() else [torch.device("cpu")]
    if text == "cpu":
        return [torch.device("cpu")]
    text = text.removeprefix("cuda:")
    try:
        indices = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(
            f"Cannot read {source}.",
            "Use a GPU index (0), a list (0,1), cpu or auto"
            + (" (aegan config set device auto)." if spec is None else "."),
        ) from None
    count = available_gpus()
    if count == 0:
        raise UsageError(
            f"{_sentence(source)} asks for a GPU, but no CUDA GPU is available here.",
            "Use --gpu cpu (slow at full size) or run on a machine with a GPU.",
        )
    missing = [i for i in indices if not 0 <= i < count]
    if missing:
        raise UsageError(
            f"GPU {', '.join(map(str, missing))} does not exist; this machine has "
            f"{count} (indices 0-{count - 1}).",
            "Pick an existing index with --gpu.",
        )
    if len(set(indices)) != len(indices):
        raise UsageError(f"{_sentence(source)} names a GPU twice.")
    return [torch.device(f"cuda:{i}") for i in indices]


def parse_device(spec: str | None, default: str = "auto") -> torch.device:
    """A single device, for commands that do not train on several."""
    devices = parse_devices(spec, default)
    if len(devices) > 1:
        source = _sentence(_source(spec, default))
        raise UsageError(f"{source} names several GPUs; this command uses one.")
    return devices[0]


def load_detector(model: str, gpu: str | None, precision: str) -> Detector:
    """The model on the chosen device, set to ``precision``; a bad precision fails before loading."""
    from aegan.config.settings import load_settings
    from aegan.detector.detector import Detector
    from aegan.model.precision import check_precision

    device = parse_device(gpu, load_settings().device)
    chosen = check_precision(precision, device)
    detector = Detector.load(model).to(device)
    detector.precision = chosen
    return detector
