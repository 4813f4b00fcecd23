"""The library uses torch's and torchaudio's public APIs only (read from the source with ``ast``).

A private module or function (a dotted name with a part that starts with an
underscore) may change or vanish in any release, so a declared version range
would not hold: torch 2.11 has no ``torch.distributed._functional_collectives
.all_gather_single``, which aegan once called.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aegan"
LIBRARIES = ("torch", "torchaudio")


def is_private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.endswith("__") for part in dotted.split("."))


def library_names(tree: ast.Module) -> dict[str, str]:
    """Local names bound to torch modules or objects: ``dist`` -> ``torch.distributed``."""
    names: dict[str, str] = {library: library for library in LIBRARIES}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES and alias.asname:
                    names[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted_name(node: ast.Attribute) -> tuple[str, str] | None:
    """(root name, attribute path) of ``a.b.c``; None when the root is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return node.id, ".".join(reversed(parts))


def private_uses(source: str) -> list[str]:
    """Every private torch or torchaudio name that ``source`` imports or reaches."""
    tree = ast.parse(source)
    names = library_names(tree)
    found = [name for name in names.values() if is_private(name)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in LIBRARIES]
        elif isinstance(node, ast.Attribute):
            parts = dotted_name(node)
            if parts is not None and parts[0] in names:
                found.append(f"{names[parts[0]]}.{parts[1]}")
    return sorted({name for name in found if is_private(name)})


def test_the_check_finds_private_names_however_they_are_reached():
    source = (
        "import torch\nimport torch.distributed as dist\n"
        "from torch.distributed import _functional_collectives as funcol\n"
        "from torch import _dynamo\nimport torch._inductor\n"
        "torch.ops.mkldnn._is_mkldnn_bf16_supported()\ndist._all_gather_base\n"
        "torch.nn.functional.conv2d\nx.__class__\n"
    )
    assert private_uses(source) == [
        "torch._dynamo",
        "torch._inductor",
        "torch.distributed._all_gather_base",
        "torch.distributed._functional_collectives",
        "torch.ops.mkldnn._is_mkldnn_bf16_supported",
    ]


@pytest.mark.parametrize(
    "module", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_module_uses_a_private_torch_name(module: Path):
    assert private_uses(module.read_text(encoding="utf-8")) == []
