"""Which device(s) a command runs on: ``--gpu N``, ``--gpu 0,1``, ``--gpu cpu`` or the default."""

from __future__ import annotations

import torch

from aegan.errors import UsageError


def available_gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def parse_devices(spec: str | None, default: str = "auto") -> list[torch.device]:
    """Devices named by a --gpu value; ``auto`` is the first GPU when present, else the CPU.

    A GPU index that does not exist is a usage error that says which exist.
    """
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
            f"Cannot read --gpu {spec!r}.", "Use a GPU index (0), a list (0,1) or cpu."
        ) from None
    count = available_gpus()
    if count == 0:
        raise UsageError(
            f"--gpu {spec} asks for a GPU, but no CUDA GPU is available here.",
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
        raise UsageError(f"--gpu {spec} names a GPU twice.")
    return [torch.device(f"cuda:{i}") for i in indices]


def parse_device(spec: str | None, default: str = "auto") -> torch.device:
    """A single device, for commands that do not train on several."""
    devices = parse_devices(spec, default)
    if len(devices) > 1:
        raise UsageError(f"--gpu {spec} names several GPUs; this command uses one.")
    return devices[0]
