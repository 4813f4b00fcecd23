"""The numerics-sensitive tests pass with every CPU kernel set this machine can run.

PyTorch picks its vectorised CPU kernels (default, AVX2, AVX512) by the CPU, and
each sums in its own order, so a tolerance that holds here may fail on another
machine. ``ATEN_CPU_CAPABILITY`` selects a lower set; the tests marked
``numerics`` run again under each set below this CPU's own (the main run covers
that one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
X86_LEVELS = ("default", "avx2", "avx512")
CHILD = "AEGAN_TEST_CPU_KERNELS"
"""Set in the child runs, so that they never start runs of their own."""


def lower_capabilities() -> list[str]:
    """The kernel sets below this CPU's own that ATEN_CPU_CAPABILITY can select."""
    own = torch.backends.cpu.get_cpu_capability().lower()
    if own in X86_LEVELS:
        return list(X86_LEVELS[: X86_LEVELS.index(own)])
    return ["default"]  # another architecture: its own vector kernels, or none


@pytest.mark.skipif(CHILD in os.environ, reason="already a kernel-set run")
@pytest.mark.parametrize("capability", lower_capabilities())
def test_numerics_hold_with_other_cpu_kernels(capability, tmp_path):
    env = {
        **os.environ,
        "ATEN_CPU_CAPABILITY": capability,
        "AEGAN_HOME": str(tmp_path / "home"),
        CHILD: capability,
    }
    script = (
        "import sys, torch, pytest\n"
        "got = torch.backends.cpu.get_cpu_capability().lower()\n"
        f"assert got == {capability!r}, f'ATEN_CPU_CAPABILITY not applied: {{got}}'\n"
        "sys.exit(pytest.main(sys.argv[1:]))\n"
    )
    args = ["-q", "-p", "no:cacheprovider", "-m", "numerics and not slow", "tests"]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, f"ATEN_CPU_CAPABILITY={capability}:\n{output}"
    assert " passed" in done.stdout.splitlines()[-1]
