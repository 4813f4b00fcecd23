"""Which torch device(s) work runs on: a device choice, or the user's ``device`` setting.

``Detector.load``, training and calibration all choose here, so a Python
user, a service and a cluster worker get the device the user configured
(``aegan config set device 0``) without passing it; the CLI's ``--gpu`` is
the same choice given explicitly.
"""

from __future__ import annotations

import torch

from aegan.config.device_spec import DEVICE_WORDS, parse_device_spec
from aegan.errors import UsageError


def available_gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _configured() -> str:
    from aegan.config.settings import load_settings

    return load_settings().device


def resolve_devices(choice: str | torch.device | None = None) -> list[torch.device]:
    """The devices of a choice (default: the ``device`` setting); ``auto`` is GPU 0 or the CPU.

    A GPU that does not exist is a UsageError saying which exist.
    """
    if isinstance(choice, torch.device):
        return [choice]
    if choice is None:  # the settings file is checked with the same grammar when it is read
        source, spec = f"the device setting {_configured()!r}", parse_device_spec(_configured())
    else:
        source = f"device {choice!r}"
        try:
            spec = parse_device_spec(str(choice))
        except ValueError:
            raise UsageError(
                f"Cannot read {source}: a device is {DEVICE_WORDS}.",
                "Use --gpu auto, --gpu cpu or a GPU index.",
            ) from None
    if spec == "auto":
        return [torch.device("cuda:0")] if available_gpus() else [torch.device("cpu")]
    if spec == "cpu":
        return [torch.device("cpu")]
    count = available_gpus()
    if count == 0:
        raise UsageError(
            f"{source[:1].upper()}{source[1:]} asks for a GPU, but no CUDA GPU is available here.",
            "Use --gpu cpu (slow at full size) or run on a machine with a GPU.",
        )
    missing = [i for i in spec if i >= count]
    if missing:
        raise UsageError(
            f"GPU {', '.join(map(str, missing))} does not exist; this machine has "
            f"{count} (indices 0-{count - 1}).",
            "Pick an existing index with --gpu.",
        )
    if len(set(spec)) != len(spec):
        raise UsageError(f"{source[:1].upper()}{source[1:]} names a GPU twice.")
    return [torch.device(f"cuda:{i}") for i in spec]


def resolve_device(choice: str | torch.device | None = None) -> torch.device:
    """One device, for work that does not spread over several GPUs."""
    devices = resolve_devices(choice)
    if len(devices) > 1:
        raise UsageError(
            f"Device {choice!r} names several GPUs; this command uses one.",
            "Name one GPU (--gpu 0).",
        )
    return devices[0]
